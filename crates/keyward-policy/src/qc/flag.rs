//! The `--qc-statement KIND[=VALUE]` flag of `keyward ra issue`.

use super::{
    qc_err, LimitValue, PdsLocation, Psd2, Psd2Role, QcError, QcKind, QcStatements, QcType,
    Semantics,
};

impl QcStatements {
    /// Parses one `--qc-statement KIND[=VALUE]` flag into `self`:
    ///
    /// - `compliance`, `sscd`;
    /// - `type=esign|eseal|web`;
    /// - `pds=URL@LANG` (repeatable);
    /// - `retention_period=YEARS`;
    /// - `limit_value=CURRENCY:AMOUNT[:EXPONENT]`;
    /// - `semantics=natural|legal|eidas-natural|eidas-legal`;
    /// - `psd2=ROLE+ROLE:NCA_ID:NCA NAME` (roles `PSP_AS`, `PSP_PI`, `PSP_AI`, `PSP_IC`).
    ///
    /// `-` and `_` are the same in kind names.
    pub fn add_flag(&mut self, flag: &str) -> Result<(), QcError> {
        let (kind, value) = match flag.split_once('=') {
            Some((k, v)) => (k.trim().replace('-', "_"), Some(v.trim())),
            None => (flag.trim().replace('-', "_"), None),
        };
        let kind = QcKind::ALL
            .into_iter()
            .find(|k| k.name() == kind)
            .ok_or_else(|| QcError {
                field: "qc-statement".into(),
                reason: format!(
                    "unknown statement {kind:?}; use one of {}",
                    QcKind::ALL.map(QcKind::name).join(", ")
                ),
            })?;
        let need = |v: Option<&str>| {
            v.filter(|v| !v.is_empty())
                .ok_or_else(|| qc_err(kind.name(), "needs a value (KIND=VALUE)"))
                .map(str::to_string)
        };
        match kind {
            QcKind::Compliance | QcKind::Sscd => {
                if value.is_some() {
                    return Err(qc_err(kind.name(), "takes no value"));
                }
                if kind == QcKind::Compliance {
                    self.compliance = true;
                } else {
                    self.sscd = true;
                }
            }
            QcKind::Type => {
                let v = need(value)?;
                self.qc_type.push(
                    QcType::parse(&v).ok_or_else(|| {
                        qc_err("type", format!("{v:?} is not esign, eseal or web"))
                    })?,
                );
            }
            QcKind::Pds => {
                let v = need(value)?;
                let (url, language) = v
                    .rsplit_once('@')
                    .ok_or_else(|| qc_err("pds", "write URL@LANG (https://…/pds-en.pdf@en)"))?;
                self.pds.push(PdsLocation {
                    url: url.to_string(),
                    language: language.to_string(),
                });
            }
            QcKind::RetentionPeriod => {
                let v = need(value)?;
                self.retention_period = Some(v.parse().map_err(|_| {
                    qc_err(
                        "retention_period",
                        format!("{v:?} is not a number of years"),
                    )
                })?);
            }
            QcKind::LimitValue => {
                let v = need(value)?;
                let parts: Vec<&str> = v.split(':').collect();
                let bad = || {
                    qc_err(
                        "limit_value",
                        "write CURRENCY:AMOUNT[:EXPONENT] (EUR:10000)",
                    )
                };
                if !(2..=3).contains(&parts.len()) {
                    return Err(bad());
                }
                self.limit_value = Some(LimitValue {
                    currency: parts[0].to_string(),
                    amount: parts[1].parse().map_err(|_| bad())?,
                    exponent: match parts.get(2) {
                        Some(e) => e.parse().map_err(|_| bad())?,
                        None => 0,
                    },
                });
            }
            QcKind::Semantics => {
                let v = need(value)?;
                self.semantics = Some(Semantics::parse(&v).ok_or_else(|| {
                    qc_err(
                        "semantics",
                        format!("{v:?} is not natural, legal, eidas-natural or eidas-legal"),
                    )
                })?);
            }
            QcKind::Psd2 => {
                let v = need(value)?;
                let bad = || {
                    qc_err(
                        "psd2",
                        "write ROLE+ROLE:NCA_ID:NCA NAME (PSP_AI+PSP_PI:SE-FI:Finansinspektionen)",
                    )
                };
                let mut parts = v.splitn(3, ':');
                let (roles, id, name) = match (parts.next(), parts.next(), parts.next()) {
                    (Some(r), Some(i), Some(n)) => (r, i, n),
                    _ => return Err(bad()),
                };
                let roles = roles
                    .split('+')
                    .map(|r| {
                        Psd2Role::parse(r.trim()).ok_or_else(|| {
                            qc_err(
                                "psd2.roles",
                                format!("{r:?} is not PSP_AS, PSP_PI, PSP_AI or PSP_IC"),
                            )
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                self.psd2 = Some(Psd2 {
                    roles,
                    nca_id: id.trim().to_string(),
                    nca_name: name.trim().to_string(),
                });
            }
        }
        Ok(())
    }
}
