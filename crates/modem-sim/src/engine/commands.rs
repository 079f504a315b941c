//! What the simulated modem does for each command: the 27.005/27.007 commands the gateway,
//! gammu-smsd and smstools send, the SIM's storages, PIN and PUK, sending and USSD.

use super::*;

/// What a group of commands answers: `None` when the command is not one of the group's.
type Handled = Result<Option<Outcome>, Fail>;

impl Engine {
    pub(super) fn submit(&mut self, pdu: &str, expected: usize) -> Result<u8, Fail> {
        if tpdu_len(pdu) != Some(expected) {
            return Err(Fail::Cms(304));
        }
        let decoded = sms::decode_submit(pdu).map_err(|e| {
            tracing::warn!(error = %e, pdu, "simulated modem got an undecodable SMS-SUBMIT");
            Fail::Cms(304)
        })?;
        self.sends += 1;
        if let Some((n, code)) = self.faults.fail_every_nth_send
            && n > 0
            && self.sends.is_multiple_of(n)
        {
            return Err(Fail::Cms(code));
        }
        if !matches!(self.cfg.registration, 1 | 5) {
            return Err(Fail::Cms(331));
        }
        let mr = self.next_mr;
        self.next_mr = self.next_mr.wrapping_add(1);
        self.sent.push(SentSms {
            to: decoded.to,
            text: decoded.text,
            concat: decoded.concat,
            pdu: pdu.to_string(),
            message_reference: mr,
        });
        Ok(mr)
    }

    fn sim_ready(&self) -> Result<(), Fail> {
        if self.v.pin_entered {
            Ok(())
        } else {
            Err(Fail::Cme(if self.puk_required { 12 } else { 11 }))
        }
    }

    fn sms_ready(&self) -> Result<(), Fail> {
        if !self.v.pin_entered {
            return Err(Fail::Cms(if self.puk_required { 316 } else { 311 }));
        }
        if self.v.cmgf != 0 {
            // Text mode is accepted as a setting, but this modem only lists and sends PDUs.
            return Err(Fail::Cms(303));
        }
        Ok(())
    }

    pub(super) fn exec(
        &mut self,
        cmd: &str,
        info: &mut Vec<String>,
        rebooted: &mut bool,
    ) -> Outcome {
        match self.exec_inner(cmd, info, rebooted) {
            Ok(o) => o,
            Err(f) => Outcome::Fail(f),
        }
    }

    fn exec_inner(
        &mut self,
        cmd: &str,
        info: &mut Vec<String>,
        rebooted: &mut bool,
    ) -> Result<Outcome, Fail> {
        if !cmd.starts_with(['+', '^', '$', '*', '#', '%']) {
            return self.basic(cmd, info);
        }
        let (name, form) = form_of(cmd);
        let name = name.as_str();
        if let Some(outcome) = self.setting(name, form, info)? {
            return Ok(outcome);
        }
        if let Some(outcome) = self.message(name, form, info)? {
            return Ok(outcome);
        }
        if let Some(outcome) = self.sim_and_network(name, form, info, rebooted)? {
            return Ok(outcome);
        }
        self.identity(name, form, info)?.ok_or(Fail::Error)
    }

    /// The settings of the message service: error reports, PDU mode, character set,
    /// indications. `None`: not one of them.
    fn setting(&mut self, name: &str, form: Form<'_>, info: &mut Vec<String>) -> Handled {
        match (name, form) {
            ("+CMEE", Form::Set(a)) => self.v.cmee = a.trim().parse().map_err(|_| Fail::Error)?,
            ("+CMEE", Form::Query) => info.push(format!("+CMEE: {}", self.v.cmee)),
            ("+CMEE", Form::Test) => info.push("+CMEE: (0-2)".into()),
            ("+CMGF", Form::Set(a)) => match a.trim() {
                "0" => self.v.cmgf = 0,
                "1" => self.v.cmgf = 1,
                _ => return Err(Fail::Error),
            },
            ("+CMGF", Form::Query) => info.push(format!("+CMGF: {}", self.v.cmgf)),
            ("+CMGF", Form::Test) => info.push("+CMGF: (0,1)".into()),
            // 27.007: a set the modem does not offer is "operation not supported".
            ("+CSCS", Form::Set(a)) => self.v.cscs = Charset::parse(a).ok_or(Fail::Cme(4))?,
            ("+CSCS", Form::Query) => info.push(format!("+CSCS: \"{}\"", self.v.cscs.name())),
            ("+CSCS", Form::Test) => {
                let names: Vec<String> = Charset::ALL
                    .iter()
                    .map(|c| format!("\"{}\"", c.name()))
                    .collect();
                info.push(format!("+CSCS: ({})", names.join(",")));
            }
            ("+CNMI", Form::Set(a)) => {
                let vals: Vec<u8> = args(a)
                    .iter()
                    .map(|s| s.trim().parse().unwrap_or(0))
                    .collect();
                for (i, v) in vals.iter().take(5).enumerate() {
                    self.v.cnmi[i] = *v;
                }
                if self.v.cnmi[1] > 3 || self.v.cnmi[0] > 3 {
                    return Err(Fail::Cms(303));
                }
            }
            ("+CNMI", Form::Query) => {
                let c = self.v.cnmi;
                info.push(format!(
                    "+CNMI: {},{},{},{},{}",
                    c[0], c[1], c[2], c[3], c[4]
                ));
            }
            ("+CNMI", Form::Test) => info.push("+CNMI: (0-3),(0-3),(0,2),(0-2),(0,1)".into()),
            ("+CMMS", Form::Set(a)) => self.v.cmms = a.trim().parse().map_err(|_| Fail::Error)?,
            ("+CMMS", Form::Query) => info.push(format!("+CMMS: {}", self.v.cmms)),
            ("+CSMS", Form::Set(_)) => info.push("+CSMS: 1,1,1".into()),
            ("+CSMS", Form::Query) => info.push("+CSMS: 0,1,1,1".into()),
            _ => return Ok(None),
        }
        Ok(Some(Outcome::Ok))
    }

    /// The stored messages: storages, list, read, delete, and the send that opens a prompt.
    /// `None`: not one of them.
    fn message(&mut self, name: &str, form: Form<'_>, info: &mut Vec<String>) -> Handled {
        match (name, form) {
            ("+CPMS", Form::Set(a)) => {
                if !self.v.pin_entered {
                    return Err(Fail::Cms(311));
                }
                let mems: Vec<Mem> = args(a)
                    .iter()
                    .filter(|s| !s.trim().is_empty())
                    .map(|s| Mem::parse(s).ok_or(Fail::Cms(302)))
                    .collect::<Result<_, _>>()?;
                for (i, m) in mems.iter().take(3).enumerate() {
                    self.v.cpms[i] = *m;
                }
                let parts: Vec<String> = self.v.cpms.iter().map(|m| self.usage(*m)).collect();
                info.push(format!("+CPMS: {}", parts.join(",")));
            }
            ("+CPMS", Form::Query) => {
                if !self.v.pin_entered {
                    return Err(Fail::Cms(311));
                }
                let parts: Vec<String> = self
                    .v
                    .cpms
                    .iter()
                    .map(|m| format!("\"{}\",{}", m.name(), self.usage(*m)))
                    .collect();
                info.push(format!("+CPMS: {}", parts.join(",")));
            }
            ("+CPMS", Form::Test) => {
                info.push("+CPMS: (\"SM\",\"ME\"),(\"SM\",\"ME\"),(\"SM\",\"ME\")".into())
            }
            ("+CMGL", Form::Set(a)) => {
                self.sms_ready()?;
                let filter: u8 = a.trim().parse().map_err(|_| Fail::Cms(302))?;
                self.list(filter, info);
            }
            ("+CMGL", Form::Exec) => {
                self.sms_ready()?;
                self.list(0, info);
            }
            ("+CMGR", Form::Set(a)) => {
                self.sms_ready()?;
                let index: u32 = a.trim().parse().map_err(|_| Fail::Cms(321))?;
                self.read(index, info)?;
            }
            ("+CMGD", Form::Set(a)) => {
                self.sms_ready()?;
                let a = args(a);
                let index: u32 = a
                    .first()
                    .and_then(|s| s.trim().parse().ok())
                    .ok_or(Fail::Cms(321))?;
                let flag: u8 = a.get(1).and_then(|s| s.trim().parse().ok()).unwrap_or(0);
                self.delete(index, flag)?;
            }
            ("+CMGS", Form::Set(a)) => {
                self.sms_ready()?;
                let len: usize = a.trim().parse().map_err(|_| Fail::Cms(304))?;
                if len == 0 || len > 176 {
                    return Err(Fail::Cms(304));
                }
                self.v.prompt = Some(len);
                return Ok(Some(Outcome::Prompt));
            }
            _ => return Ok(None),
        }
        Ok(Some(Outcome::Ok))
    }

    /// The SIM (PIN, subscriber), the network (registration, signal, operator, service centre,
    /// USSD) and the radio (`AT+CFUN`, whose `1,1` restarts the modem). `None`: not one of them.
    fn sim_and_network(
        &mut self,
        name: &str,
        form: Form<'_>,
        info: &mut Vec<String>,
        rebooted: &mut bool,
    ) -> Handled {
        match (name, form) {
            ("+CPIN", Form::Query) => {
                let state = if self.v.pin_entered {
                    "READY"
                } else if self.puk_required {
                    "SIM PUK"
                } else {
                    "SIM PIN"
                };
                info.push(format!("+CPIN: {state}"));
            }
            ("+CPIN", Form::Set(a)) => self.enter_pin(&args(a))?,
            ("+CIMI", Form::Exec) => {
                self.sim_ready()?;
                info.push(self.cfg.imsi.clone());
            }
            ("+CCID", Form::Exec) | ("^ICCID", Form::Query) => {
                let label = if name == "^ICCID" { "^ICCID" } else { "+CCID" };
                info.push(format!("{label}: {}", self.cfg.iccid));
            }
            ("+CNUM", Form::Exec) => {
                info.push(format!("+CNUM: \"\",\"{}\",145", self.cfg.own_number))
            }
            ("+CREG", Form::Set(a)) => self.v.creg_n = a.trim().parse().map_err(|_| Fail::Error)?,
            ("+CREG", Form::Query) => info.push(format!(
                "+CREG: {},{}",
                self.v.creg_n, self.cfg.registration
            )),
            ("+CGREG", Form::Query) => info.push(format!("+CGREG: 0,{}", self.cfg.registration)),
            ("+CSQ", Form::Exec) => info.push(format!("+CSQ: {},99", self.cfg.rssi)),
            ("+COPS", Form::Query) => {
                if matches!(self.cfg.registration, 1 | 5) {
                    info.push(format!("+COPS: 0,0,\"{}\"", self.cfg.operator));
                } else {
                    info.push("+COPS: 0".into());
                }
            }
            ("+COPS", Form::Set(_)) => {}
            ("+CSCA", Form::Query) => {
                let toa = if self.cfg.smsc.starts_with('+') {
                    145
                } else {
                    129
                };
                info.push(format!("+CSCA: \"{}\",{toa}", self.cfg.smsc));
            }
            ("+CSCA", Form::Set(a)) => {
                if let Some(s) = args(a).first() {
                    self.cfg.smsc = s.clone();
                }
            }
            ("+CUSD", Form::Set(a)) => self.ussd(&args(a))?,
            ("+CUSD", Form::Query) => info.push("+CUSD: 1".into()),
            ("+CFUN", Form::Set(a)) => {
                let a = args(a);
                self.v.cfun = a
                    .first()
                    .and_then(|s| s.trim().parse().ok())
                    .ok_or(Fail::Error)?;
                if a.get(1).map(|s| s.trim()) == Some("1") {
                    *rebooted = true;
                }
            }
            ("+CFUN", Form::Query) => info.push(format!("+CFUN: {}", self.v.cfun)),
            ("+CNMA", _) => {}
            _ => return Ok(None),
        }
        Ok(Some(Outcome::Ok))
    }

    /// What the modem says it is (make, model, firmware, IMEI) and its make's own commands.
    /// `None`: not one of them.
    fn identity(&mut self, name: &str, form: Form<'_>, info: &mut Vec<String>) -> Handled {
        let p = self.cfg.personality;
        match (name, form) {
            ("+CGMI" | "+GMI", Form::Exec) => info.push(p.manufacturer().into()),
            ("+CGMM" | "+GMM", Form::Exec) => info.push(p.model().into()),
            ("+CGMR" | "+GMR", Form::Exec) => info.push(p.revision().into()),
            ("+CGSN" | "+GSN", Form::Exec) => info.push(self.cfg.imei.clone()),
            ("^CURC", Form::Set(a)) if p == Personality::Huawei => self.v.curc = a.trim() != "0",
            ("^CURC", Form::Query) if p == Personality::Huawei => {
                info.push(format!("^CURC: {}", u8::from(self.v.curc)))
            }
            _ => return Ok(None),
        }
        Ok(Some(Outcome::Ok))
    }

    fn basic(&mut self, cmd: &str, info: &mut Vec<String>) -> Result<Outcome, Fail> {
        let upper = cmd.to_ascii_uppercase();
        let p = self.cfg.personality;
        match upper.as_str() {
            "" => {}
            "E0" | "E" => self.v.echo = false,
            "E1" => self.v.echo = true,
            "Z" | "Z0" | "&F" | "&F0" => {
                let pin = self.v.pin_entered;
                self.v = Volatile::at_boot();
                self.v.pin_entered = pin;
            }
            "I" | "I0" => {
                info.push(p.manufacturer().into());
                info.push(p.model().into());
                info.push(p.revision().into());
            }
            "H" | "H0" => {}
            "A" => return Err(Fail::Error),
            c if c.starts_with('D') => return Err(Fail::Error),
            c if ["V", "Q", "X", "S", "&C", "&D", "&W", "&K", "L", "M"]
                .iter()
                .any(|b| c.starts_with(b)) => {}
            _ => return Err(Fail::Error),
        }
        Ok(Outcome::Ok)
    }

    fn usage(&self, m: Mem) -> String {
        let s = self.storage(m);
        format!("{},{}", s.iter().filter(|x| x.is_some()).count(), s.len())
    }

    fn list(&mut self, filter: u8, info: &mut Vec<String>) {
        let mem = self.v.cpms[0];
        let first = self.cfg.personality.first_index();
        for (i, slot) in self.storage_mut(mem).iter_mut().enumerate() {
            let Some(s) = slot else { continue };
            if filter != 4 && s.stat != filter {
                continue;
            }
            let len = tpdu_len(&s.pdu).unwrap_or(0);
            info.push(format!("+CMGL: {},{},,{}", i as u32 + first, s.stat, len));
            info.push(s.pdu.clone());
            if s.stat == 0 {
                s.stat = 1;
            }
        }
    }

    fn slot_of(&self, index: u32) -> Result<(Mem, usize), Fail> {
        let mem = self.v.cpms[0];
        let first = self.cfg.personality.first_index();
        let slot = index.checked_sub(first).ok_or(Fail::Cms(321))? as usize;
        if slot >= self.storage(mem).len() {
            return Err(Fail::Cms(321));
        }
        Ok((mem, slot))
    }

    fn read(&mut self, index: u32, info: &mut Vec<String>) -> Result<(), Fail> {
        let (mem, slot) = self.slot_of(index)?;
        let sim800 = self.cfg.personality == Personality::Sim800;
        match &mut self.storage_mut(mem)[slot] {
            Some(s) => {
                let len = tpdu_len(&s.pdu).unwrap_or(0);
                info.push(format!("+CMGR: {},,{}", s.stat, len));
                info.push(s.pdu.clone());
                if s.stat == 0 {
                    s.stat = 1;
                }
                Ok(())
            }
            None if sim800 => Ok(()),
            None => Err(Fail::Cms(321)),
        }
    }

    fn delete(&mut self, index: u32, flag: u8) -> Result<(), Fail> {
        let mem = self.v.cpms[0];
        if flag == 0 {
            let (mem, slot) = self.slot_of(index)?;
            self.storage_mut(mem)[slot] = None;
        } else {
            for s in self.storage_mut(mem).iter_mut() {
                let drop = match (flag, &s) {
                    (_, None) => false,
                    (1, Some(x)) => x.stat == 1,
                    (2 | 3, Some(x)) => x.stat == 1 || x.stat >= 2,
                    (4, Some(_)) => true,
                    _ => false,
                };
                if drop {
                    *s = None;
                }
            }
        }
        // A freed slot lets the network hand over what it kept.
        self.network_after_reply();
        Ok(())
    }

    /// Stores what the network kept; the `+CMTI`s follow the answer being built.
    fn network_after_reply(&mut self) {
        let urcs = self.store_from_network();
        if !urcs.is_empty() {
            let text = String::from_utf8_lossy(&urcs).into_owned();
            self.after_reply.extend(
                text.split("\r\n")
                    .filter(|l| !l.is_empty())
                    .map(str::to_string),
            );
        }
    }

    fn enter_pin(&mut self, a: &[String]) -> Result<(), Fail> {
        if self.v.pin_entered {
            return Err(Fail::Cme(3));
        }
        if self.puk_required {
            if a.first().map(String::as_str) == Some(self.cfg.puk.as_str()) && a.len() >= 2 {
                self.cfg.pin = Some(a[1].clone());
                self.puk_required = false;
                self.pin_tries_left = 3;
                self.v.pin_entered = true;
                return Ok(());
            }
            return Err(Fail::Cme(16));
        }
        if a.first().map(String::as_str) == self.cfg.pin.as_deref() {
            self.v.pin_entered = true;
            self.pin_tries_left = 3;
            self.network_after_reply();
            Ok(())
        } else {
            self.pin_tries_left = self.pin_tries_left.saturating_sub(1);
            if self.pin_tries_left == 0 {
                self.puk_required = true;
            }
            Err(Fail::Cme(16))
        }
    }

    fn ussd(&mut self, a: &[String]) -> Result<(), Fail> {
        let n = a.first().map(|s| s.trim()).unwrap_or("");
        if n != "1" || a.len() < 2 {
            return Ok(());
        }
        if !matches!(self.cfg.registration, 1 | 5) {
            return Err(Fail::Cme(30));
        }
        let line = match &self.cfg.ussd {
            Some(u) if u.code == a[1] => match u.encoding {
                UssdEncoding::Text => format!("+CUSD: 0,\"{}\",15", u.text),
                UssdEncoding::PackedGsm7Hex => {
                    format!("+CUSD: 0,\"{}\",15", pack_gsm7_hex(&u.text))
                }
                UssdEncoding::Ucs2Hex => {
                    let hex: String = u
                        .text
                        .encode_utf16()
                        .map(|unit| format!("{unit:04X}"))
                        .collect();
                    format!("+CUSD: 0,\"{hex}\",72")
                }
            },
            _ => "+CUSD: 4".into(),
        };
        self.after_reply.push(line);
        Ok(())
    }
}
