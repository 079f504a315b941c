//! The reports of a test burst: each text unique by its tag, in three languages, some long.

/// First words of the reports, keywords in three languages.
pub const OPENINGS: &[&str] = &[
    "AJALI mgodi wa Kalimbi, watu wamejeruhiwa",
    "Vurugu sokoni karibu na mgodi",
    "USHURU haramu kwenye kizuizi",
    "Barrière à Nyabibwe, 5000 FC par sac",
    "Travail forcé au site de Lemera",
    "Accident at the Bisie mine, two men injured",
    "Armed men at the Bisie mine since this morning",
    "Fraud at the buying house, the scale is wrong",
];

/// What makes message `i`'s text unique (at its end, where a keyword never is).
pub fn tag(i: usize) -> String {
    format!("[namba {i}]")
}

/// The text of report `i`; a long one takes several SMS parts.
pub fn text(i: usize, long: bool) -> String {
    let opening = OPENINGS[i % OPENINGS.len()];
    if long {
        format!(
            "{opening}. Ujumbe mrefu namba {i}: watu wengi walikuja asubuhi na kuchukua mifuko ya \
             madini bila kulipa, walisema ni amri ya mkubwa wao, na wachimbaji wakakimbia porini; \
             tunaomba msaada wa haraka kwa sababu hali ni mbaya sana na watoto wapo pia hapa. \
             Mwisho {}",
            tag(i)
        )
    } else {
        format!("{opening} {}", tag(i))
    }
}
