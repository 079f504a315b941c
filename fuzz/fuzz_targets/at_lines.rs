//! Fuzzes the AT layer's reading of what a modem says: the byte stream cut into lines and
//! prompts (fed in uneven chunks, as a serial port delivers it), each line classified as URC,
//! final result code or answer, two-line URCs completed with the next line, and the lines
//! given to every typed command's answer parser. Any panic is a bug: this is outside input.
#![no_main]

use at::commands::*;
use at::{AtCodec, AtFrame, Storage, UrcMatch};
use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::Decoder;

fn parse_all(lines: &[String]) {
    let _ = At.parse(lines);
    let _ = Raw::new("AT+CUSTOM").parse(lines);
    let _ = CpmsSet::all(Storage::Sim).parse(lines);
    let _ = CpmsQuery.parse(lines);
    let _ = Cmgl(ListFilter::All).parse(lines);
    let _ = Cmgr(1).parse(lines);
    let _ = Cmgs {
        tpdu_len: 20,
        pdu: "00".into(),
    }
    .parse(lines);
    let _ = CpinQuery.parse(lines);
    let _ = CregQuery.parse(lines);
    let _ = Csq.parse(lines);
    let _ = CscaQuery.parse(lines);
    let _ = Cgmi.parse(lines);
    let _ = Cimi.parse(lines);
    let _ = Ccid.parse(lines);
}

fuzz_target!(|data: &[u8]| {
    // The first byte sets the chunk size and the line cap, so short caps are exercised too.
    let (control, stream) = match data.split_first() {
        Some((c, rest)) => (*c, rest),
        None => return,
    };
    let chunk = usize::from(control % 17) + 1;
    let mut codec = if control & 0x80 != 0 {
        AtCodec::with_max_line(usize::from(control & 0x3f) + 1)
    } else {
        AtCodec::new()
    };
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    for piece in stream.chunks(chunk) {
        buf.extend_from_slice(piece);
        while let Ok(Some(frame)) = codec.decode(&mut buf) {
            frames.push(frame);
        }
    }
    while let Ok(Some(frame)) = codec.decode_eof(&mut buf) {
        frames.push(frame);
    }
    let _ = at::clean_line(stream);

    let mut lines = Vec::new();
    let mut header = None;
    let mut unfinished: Option<String> = None;
    for frame in frames {
        let AtFrame::Line(line) = frame else { continue };
        if let Some(kind) = header.take() {
            let _ = at::complete_urc(kind, &line);
        }
        // A USSD answer whose quoted text goes on over the next lines, joined as the client does.
        if let Some(so_far) = unfinished.take()
            && let UrcMatch::Unfinished(joined) = at::continue_urc(&so_far, &line)
        {
            unfinished = Some(joined);
        }
        let _ = at::looks_like_pdu(&line);
        match at::classify_urc(&line, &["+CREG:", "+CPMS:"]) {
            Some(UrcMatch::Header(kind)) => header = Some(kind),
            Some(UrcMatch::Unfinished(start)) => unfinished = Some(start),
            Some(UrcMatch::Complete(_)) => {}
            None => {}
        }
        let _ = at::classify_urc(&line, &[]);
        if let Some(result) = at::final_result(&line) {
            if let Some(e) = result.into_error("AT+CMGS=20") {
                let _ = e.to_string();
                let _ = (e.cms_code(), e.cme_code(), e.is_memory_full());
            }
            parse_all(&lines);
            lines.clear();
        } else {
            let _ = at::split_params(&line);
            lines.push(line);
        }
    }
    parse_all(&lines);
});
