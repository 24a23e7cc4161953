//! Prices: the month they are quoted for, and price lists that replace the catalog's
//! (a request's `prices`, the cost planner's `prices.json`).

use calculator::json::{parse_strict, JsonError};
use calculator::limits::{MAX_PRICE_TEXT_CHARS, MAX_USD_PER_HOUR};
use calculator::{clip, CalcError};

use crate::catalog::{Catalog, Instance, PriceSource};

/// Hours in the month that prices are quoted for (AWS's convention: 365 × 24 / 12).
pub const HOURS_PER_MONTH: f64 = 730.0;

/// USD per month of [`HOURS_PER_MONTH`] at `usd_per_hour`, to the cent: how every
/// answer states a monthly price.
pub fn usd_per_month(usd_per_hour: f64) -> f64 {
    cents(usd_per_hour * HOURS_PER_MONTH)
}

/// An amount of USD rounded to the cent.
pub fn cents(usd: f64) -> f64 {
    (usd * 100.0).round() / 100.0
}

/// Prices that replace the catalog's, in the catalog's own shape:
/// `{"prices_as_of": "...", "region": "...", "instances": [{"instance": "...",
/// "on_demand_usd_per_hour": 1.0}]}`.
#[derive(Clone, Debug, PartialEq)]
pub struct PriceList {
    /// The date of the prices.
    pub as_of: String,
    /// Their region.
    pub region: String,
    /// `(instance type, USD per hour)`.
    pub prices: Vec<(String, f64)>,
    /// Where they come from, for answers (`s3://bucket/prices.json`).
    pub source: String,
}

impl PriceList {
    /// `catalog` with this list's prices replacing those of the same instances, and
    /// its date, region and source.
    pub fn applied_to(&self, catalog: &Catalog) -> Catalog {
        let mut out = catalog.clone();
        for (name, price) in &self.prices {
            if let Some(i) = out
                .instances
                .iter_mut()
                .find(|i| i.name.eq_ignore_ascii_case(name))
            {
                i.usd_per_hour = Some(*price);
            }
        }
        // A list that prices every priced instance replaces the date; a partial one
        // leaves the others at theirs, and the source says which is which.
        let covered = |i: &Instance| {
            self.prices
                .iter()
                .any(|(name, _)| name.eq_ignore_ascii_case(&i.name))
        };
        let missing = catalog
            .instances
            .iter()
            .filter(|i| i.usd_per_hour.is_some() && !covered(i))
            .count();
        // Each instance's price now comes from this list or from where it came before.
        let listed = |name: &String| self.prices.iter().any(|(n, _)| n == name);
        for source in &mut out.price_sources {
            source.instances.retain(|n| !listed(n));
        }
        out.price_sources.retain(|s| !s.instances.is_empty());
        out.price_sources.insert(
            0,
            PriceSource {
                source: self.source.clone(),
                as_of: self.as_of.clone(),
                region: self.region.clone(),
                instances: self.prices.iter().map(|(n, _)| n.clone()).collect(),
            },
        );
        if missing == 0 {
            out.prices_as_of.clone_from(&self.as_of);
            out.region.clone_from(&self.region);
            out.price_source.clone_from(&self.source);
        } else {
            out.price_source = format!(
                "{} (as of {}) for {} of the instance types; {} (as of {}) for the other {missing}",
                self.source,
                self.as_of,
                self.prices.len(),
                catalog.price_source,
                catalog.prices_as_of
            );
        }
        out
    }

    /// Reads a price document. Every instance must be in `catalog`; `source` names the
    /// document in errors and answers. Errors name the field (`instances[2].instance`).
    pub fn parse(text: &str, source: &str, catalog: &Catalog) -> Result<PriceList, CalcError> {
        let value = parse_strict(text.as_bytes()).map_err(|e| match e {
            JsonError::DuplicateKey(path) => CalcError::field(
                format!("{source}.{path}"),
                "is given twice in one object; give each key once",
            ),
            JsonError::Syntax(e) => CalcError::field(source, format!("is not valid JSON: {e}")),
        })?;
        let text_field = |key: &str| -> Result<String, CalcError> {
            value
                .get(key)
                .and_then(|v| v.as_str())
                .filter(|s| !s.trim().is_empty() && s.len() <= MAX_PRICE_TEXT_CHARS)
                .map(str::to_owned)
                .ok_or_else(|| {
                    CalcError::field(
                        format!("{source}.{key}"),
                        format!("must be a string of 1 to {MAX_PRICE_TEXT_CHARS} characters"),
                    )
                })
        };
        let as_of = text_field("prices_as_of")?;
        let region = text_field("region")?;
        let rows = value
            .get("instances")
            .and_then(|v| v.as_array())
            .ok_or_else(|| CalcError::field(format!("{source}.instances"), "must be an array"))?;
        let mut list = PriceList {
            as_of,
            region,
            prices: Vec::with_capacity(rows.len()),
            source: source.into(),
        };
        for (i, row) in rows.iter().enumerate() {
            let at = |key: &str| format!("{source}.instances[{i}].{key}");
            let name = row
                .get("instance")
                .and_then(|v| v.as_str())
                .ok_or_else(|| CalcError::field(at("instance"), "must be a string"))?;
            let known = catalog.instance(name).ok_or_else(|| {
                CalcError::field(
                    at("instance"),
                    format!("'{}' is not in the catalog", clip(name)),
                )
            })?;
            if let Some(first) = list.listed(&known.name) {
                return Err(CalcError::field(
                    at("instance"),
                    format!(
                        "'{}' is {} again (instances[{first}] prices it already); give each instance type once",
                        clip(name),
                        known.name
                    ),
                ));
            }
            let price = row
                .get("on_demand_usd_per_hour")
                .and_then(|v| v.as_f64())
                .filter(|p| p.is_finite() && *p >= 0.0 && *p <= MAX_USD_PER_HOUR)
                .ok_or_else(|| {
                    CalcError::field(
                        at("on_demand_usd_per_hour"),
                        format!("must be a number from 0 to {MAX_USD_PER_HOUR}"),
                    )
                })?;
            list.prices.push((known.name.clone(), price));
        }
        Ok(list)
    }

    /// Where the list already prices `instance` (a catalog name), if it does. Names
    /// are matched after the catalog resolved them, whatever their case: a second
    /// price for one instance type would leave which applies to the order given.
    pub fn listed(&self, instance: &str) -> Option<usize> {
        self.prices.iter().position(|(n, _)| n == instance)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn price_lists_replace_prices_and_date() {
        let c = Catalog::embedded();
        let text = r#"{"prices_as_of": "2026-11-01", "region": "us-east-1",
            "instances": [{"instance": "p5.48xlarge", "on_demand_usd_per_hour": 40.5}]}"#;
        let list = PriceList::parse(text, "prices.json", c).unwrap();
        let updated = list.applied_to(c);
        assert_eq!(
            updated.instance("p5.48xlarge").unwrap().usd_per_hour,
            Some(40.5)
        );
        assert_eq!(
            updated.instance("p4d.24xlarge").unwrap().usd_per_hour,
            c.instance("p4d.24xlarge").unwrap().usd_per_hour
        );
        // A partial list keeps the catalog's date and says which prices are whose.
        assert_eq!(updated.prices_as_of, c.prices_as_of);
        assert_eq!(
            updated.price_source,
            format!(
                "prices.json (as of 2026-11-01) for 1 of the instance types; embedded catalog (as of {}) for the other {}",
                c.prices_as_of,
                c.instances.len() - 1
            )
        );
        // A full one replaces the date.
        let all: Vec<String> = c
            .instances
            .iter()
            .map(|i| {
                format!(
                    r#"{{"instance": "{}", "on_demand_usd_per_hour": 1}}"#,
                    i.name
                )
            })
            .collect();
        let text = format!(
            r#"{{"prices_as_of": "2026-11-02", "region": "us-east-1", "instances": [{}]}}"#,
            all.join(",")
        );
        let full = PriceList::parse(&text, "prices.json", c)
            .unwrap()
            .applied_to(c);
        assert_eq!(
            (full.prices_as_of.as_str(), full.price_source.as_str()),
            ("2026-11-02", "prices.json")
        );
    }

    #[test]
    fn bad_price_lists_name_the_field() {
        let c = Catalog::embedded();
        let err = |text: &str| {
            PriceList::parse(text, "prices.json", c)
                .unwrap_err()
                .to_string()
        };
        assert!(err("{").starts_with("prices.json: is not valid JSON"));
        assert!(err(r#"{"region": "x", "instances": []}"#).starts_with("prices.json.prices_as_of"));
        let unknown = r#"{"prices_as_of": "d", "region": "r",
            "instances": [{"instance": "x1.huge", "on_demand_usd_per_hour": 1}]}"#;
        assert!(err(unknown).starts_with("prices.json.instances[0].instance: 'x1.huge'"));
        let negative = r#"{"prices_as_of": "d", "region": "r",
            "instances": [{"instance": "p5.48xlarge", "on_demand_usd_per_hour": -1}]}"#;
        assert!(err(negative).starts_with("prices.json.instances[0].on_demand_usd_per_hour"));
    }
}
