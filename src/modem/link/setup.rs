//! Setting a modem up for a session: the first contact, identification, the SIM's PIN,
//! indications and network registration.

use super::*;

impl Session<'_> {
    /// The first contact: a probe, retried; a modem that never answers ends the session as silent.
    pub(super) async fn wake(&mut self) -> Result<(), SessionEnd> {
        let mut last = AtError::ModemGone;
        for _ in 0..3 {
            match self
                .client
                .run_with_timeout(&At, self.link.opts.wake_timeout)
                .await
            {
                Ok(()) => return Ok(()),
                Err(AtError::ModemGone) => {
                    return Err(SessionEnd::Link {
                        error: AtError::ModemGone,
                        answered: false,
                    });
                }
                Err(e) => last = e,
            }
        }
        self.link
            .status
            .update(|s| s.detail = Some(format!("modem does not answer AT: {last}")));
        Err(SessionEnd::Link {
            error: last,
            answered: false,
        })
    }

    pub(super) async fn init(&mut self) -> Result<(), SessionEnd> {
        self.cmd(&Echo(false)).await?;
        if let Err(e) = self.cmd(&Cmee(1)).await {
            tracing::info!(modem = %self.name(), error = %e, "modem refuses AT+CMEE=1; errors will be plain");
        }
        self.identify().await?;
        self.unlock_sim().await?;
        self.identify_sim().await?;
        // Right after a boot or a PIN, Wavecom and others answer "SIM busy" (+CME ERROR: 515)
        // until their SIM is read (`+WIND: 4`): wait for it rather than give up.
        self.cmd_patient(&Cmgf::Pdu).await.map_err(|e| match e {
            e if e.is_link_fault() => SessionEnd::from(e),
            e => SessionEnd::Fatal(format!("modem refuses PDU mode (AT+CMGF=0): {e}")),
        })?;
        self.select_storage(&Storage::Sim).await?;
        self.set_indications().await?;
        match self.cmd(&CscaQuery).await {
            Ok(smsc) => {
                if smsc.is_none() {
                    tracing::warn!(modem = %self.name(), "no SMS service centre on the SIM (AT+CSCA?); sending will fail");
                }
                self.link.status.update(|s| s.smsc = smsc);
            }
            Err(e) if e.is_link_fault() => return Err(e.into()),
            Err(e) => tracing::info!(modem = %self.name(), error = %e, "AT+CSCA? refused"),
        }
        self.wait_registration().await?;
        self.refresh_health().await?;
        self.link.status.set_state(LinkState::Ready, None);
        tracing::info!(modem = %self.name(), "modem ready");
        Ok(())
    }

    pub(super) async fn identify(&mut self) -> Result<(), SessionEnd> {
        let manufacturer = self.optional(&Cgmi).await?;
        let model = self.optional(&Cgmm).await?;
        let revision = self.optional(&Cgmr).await?;
        let imei = self.optional(&Cgsn).await?;
        let personality = personality_of(manufacturer.as_deref(), model.as_deref());
        if personality == Quirks::Huawei {
            // Huawei sticks flood the line with ^RSSI/^MODE/^BOOT unless told not to.
            if let Err(e) = self.cmd(&Raw::new("AT^CURC=0")).await {
                if e.is_link_fault() {
                    return Err(e.into());
                }
                tracing::info!(modem = %self.name(), error = %e, "AT^CURC=0 refused");
            }
        }
        tracing::info!(modem = %self.name(), manufacturer = ?manufacturer, model = ?model, revision = ?revision, %personality, "modem identified");
        self.link.status.update(|s| {
            s.manufacturer = manufacturer;
            s.model = model;
            s.revision = revision;
            s.imei = imei;
            s.personality = personality;
        });
        Ok(())
    }

    /// The SIM's IMSI and ICCID (readable once the PIN is in); either may be missing.
    pub(super) async fn identify_sim(&mut self) -> Result<(), SessionEnd> {
        let imsi = self.optional(&Cimi).await?;
        let iccid = match self.optional(&Ccid).await? {
            Some(c) => Some(c),
            // Huawei has it as AT^ICCID?.
            None if self.link.status.handle().snapshot().personality == Quirks::Huawei => self
                .optional(&Raw::new("AT^ICCID?"))
                .await?
                .and_then(|lines| {
                    lines
                        .iter()
                        .find_map(|l| l.strip_prefix("^ICCID:").map(|v| v.trim().to_string()))
                }),
            None => None,
        };
        tracing::info!(modem = %self.name(), imsi = ?imsi, iccid = ?iccid, "SIM identified");
        self.link.status.update(|s| {
            s.imsi = imsi;
            s.iccid = iccid;
        });
        Ok(())
    }

    /// New messages (and status reports, when asked for) stored and announced by index.
    pub(super) async fn set_indications(&mut self) -> Result<(), SessionEnd> {
        let mut tries = vec![];
        if self.link.opts.submit.status_report {
            // Reports stored and announced (+CDSI), else pushed to us (+CDS).
            tries.push(Cnmi {
                ds: 2,
                ..Cnmi::STORE_AND_NOTIFY
            });
            tries.push(Cnmi {
                ds: 1,
                ..Cnmi::STORE_AND_NOTIFY
            });
        }
        tries.push(Cnmi::STORE_AND_NOTIFY);
        for cnmi in tries {
            match self.cmd_patient(&cnmi).await {
                Ok(()) => {
                    if self.link.opts.submit.status_report && cnmi.ds == 0 {
                        tracing::warn!(modem = %self.name(), "modem refuses to pass status reports on; the sweep will still find stored ones");
                    }
                    return Ok(());
                }
                Err(e) if e.is_link_fault() => return Err(e.into()),
                Err(e) => {
                    tracing::info!(modem = %self.name(), command = %cnmi.line(), error = %e, "indication setting refused")
                }
            }
        }
        tracing::warn!(modem = %self.name(), "modem refuses AT+CNMI=2,1,0,0,0; relying on the periodic sweep");
        Ok(())
    }

    /// Waits (bounded) for the modem to register; a modem that does not is still used, since the
    /// messages already on its SIM can be taken.
    pub(super) async fn wait_registration(&mut self) -> Result<(), SessionEnd> {
        let deadline = Instant::now() + self.link.opts.registration_wait;
        loop {
            let stat = self.optional(&CregQuery).await?.map(|r| r.stat);
            match stat {
                Some(s) if s.is_roaming() => {
                    tracing::warn!(modem = %self.name(), registration = registration_word(s), "registered while roaming: every SMS may cost more");
                    return Ok(());
                }
                Some(s) if s.is_registered() => return Ok(()),
                // A modem without AT+CREG? tells nothing: go on.
                None => return Ok(()),
                Some(s) if Instant::now() >= deadline => {
                    tracing::warn!(modem = %self.name(), registration = ?s, "not registered on the network; receiving what is on the SIM, sending will fail until it is");
                    return Ok(());
                }
                Some(_) => sleep(Duration::from_secs(1)).await,
            }
        }
    }

    /// Runs a command whose failure (other than the link's) only means "not supported".
    pub(super) async fn optional<C: AtCommand>(
        &mut self,
        cmd: &C,
    ) -> Result<Option<C::Response>, SessionEnd> {
        match self.cmd(cmd).await {
            Ok(r) => Ok(Some(r)),
            Err(e) if e.is_link_fault() => Err(e.into()),
            Err(_) => Ok(None),
        }
    }

    pub(super) async fn unlock_sim(&mut self) -> Result<(), SessionEnd> {
        let state = match self.cmd_patient(&CpinQuery).await {
            Ok(s) => s,
            Err(e) if e.is_link_fault() => return Err(e.into()),
            Err(e) if e.cme_code() == Some(10) || e.cms_code() == Some(310) => {
                return Err(SessionEnd::Fatal(
                    "no SIM card in the modem (+CME ERROR: 10): insert one".into(),
                ));
            }
            Err(e) => {
                return Err(SessionEnd::Fatal(format!(
                    "cannot read the SIM state (AT+CPIN?): {e}"
                )));
            }
        };
        match state {
            s if s.allows_sms() => {
                if s != PinState::Ready {
                    tracing::info!(modem = %self.name(), state = %s, "the SIM waits for its PIN2/PUK2, which SMS do not need; going on");
                }
                Ok(())
            }
            PinState::SimPin => {
                if self.link.pin_refused {
                    return Err(SessionEnd::Fatal("the SIM PIN was refused before; not trying it again".into()));
                }
                let Some(file) = self.link.cfg.pin_file.clone() else {
                    return Err(SessionEnd::Fatal(
                        "the SIM asks for a PIN and no pin_file is configured for this modem".into(),
                    ));
                };
                let pin = config::secrets::read_pin(&file).map_err(|e| SessionEnd::Fatal(e.to_string()))?;
                match self.cmd(&CpinEnter { pin }).await {
                    Ok(()) => {
                        tracing::info!(modem = %self.name(), "SIM PIN accepted");
                        Ok(())
                    }
                    Err(e) if e.is_link_fault() => Err(e.into()),
                    Err(e) => {
                        self.link.pin_refused = true;
                        Err(SessionEnd::Fatal(format!(
                            "the SIM refused the PIN from {} ({e}); fix the file — the PIN is not tried again, to keep the SIM from locking",
                            file.display()
                        )))
                    }
                }
            }
            PinState::SimPuk => Err(SessionEnd::Fatal(
                "the SIM is locked and needs its PUK: unlock it in a phone, then restart the gateway".into(),
            )),
            s if s.is_personalisation_lock() => Err(SessionEnd::Fatal(format!(
                "the modem is locked to another SIM or operator ({s}): ask its seller for the unlock code, or use another modem"
            ))),
            other => Err(SessionEnd::Fatal(format!("the SIM is not ready: {other}"))),
        }
    }
}
