//! A small byte cursor: every read is bounds-checked and a short read becomes
//! `PduError::Truncated` naming the field, so the decoder never indexes out of bounds.

use super::error::PduError;

/// Reads a PDU front to back.
#[derive(Debug, Clone)]
pub(crate) struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Cursor { data, pos: 0 }
    }

    /// Bytes not yet read.
    pub(crate) fn remaining(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }

    /// Reads one byte.
    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, PduError> {
        let b = self.take(1, field)?;
        Ok(b.first().copied().unwrap_or(0))
    }

    /// Reads `n` bytes.
    pub(crate) fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], PduError> {
        let end = self.pos.checked_add(n);
        match end.and_then(|end| self.data.get(self.pos..end)) {
            Some(slice) => {
                self.pos += n;
                Ok(slice)
            }
            None => Err(PduError::Truncated {
                field,
                offset: self.pos,
                needed: n,
                available: self.remaining(),
            }),
        }
    }

    /// Reads exactly `N` bytes into an array.
    pub(crate) fn array<const N: usize>(
        &mut self,
        field: &'static str,
    ) -> Result<[u8; N], PduError> {
        let slice = self.take(N, field)?;
        let mut out = [0u8; N];
        out.copy_from_slice(slice);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_read_names_the_field_and_offset() {
        let mut c = Cursor::new(&[1, 2, 3]);
        assert_eq!(c.u8("a").unwrap(), 1);
        let err = c.take(5, "TP-SCTS").unwrap_err();
        assert_eq!(
            err,
            PduError::Truncated {
                field: "TP-SCTS",
                offset: 1,
                needed: 5,
                available: 2
            }
        );
        assert_eq!(c.take(2, "b").unwrap(), &[2, 3]);
        assert!(c.u8("c").is_err());
        assert_eq!(c.remaining(), 0);
    }

    #[test]
    fn huge_length_does_not_overflow() {
        let mut c = Cursor::new(&[1]);
        c.u8("a").unwrap();
        assert!(c.take(usize::MAX, "x").is_err());
    }
}
