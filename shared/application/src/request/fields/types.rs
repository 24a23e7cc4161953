//! The columns of the field table: where a field is taken, what it holds, what it is
//! when left out, and what part of a request it is.

use calculator::limits::{FieldRange, FractionRange, NumberRange};
use serde_json::Value;

use crate::request::calculation::Calculation;

/// An endpoint that reads request fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /api/memory/inference` (and each inference configuration of a compare).
    Inference,
    /// `POST /api/memory/training` (and each training configuration of a compare).
    Training,
    /// `POST /api/plan`: its own fields; the rest are those of its `mode`'s endpoint.
    Plan,
    /// `POST /api/memory/compare`'s own fields.
    Compare,
    /// `POST /api/performance`.
    Performance,
}

impl Endpoint {
    /// The memory endpoint of a calculation.
    pub fn of(calc: Calculation) -> Endpoint {
        match calc {
            Calculation::Inference => Endpoint::Inference,
            Calculation::Training => Endpoint::Training,
        }
    }
}

/// What a field holds, with its range or choices.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    /// An integer in the range (integral floats such as `2.0` accepted).
    Integer(FieldRange),
    /// A finite number in the inclusive range.
    Number(NumberRange),
    /// A number above the range's lower bound, at most its upper.
    Fraction(FractionRange),
    /// `true` or `false`.
    Boolean,
    /// `true`, `false` or one of these names (`gradient_checkpointing`).
    BooleanOr(&'static [&'static str]),
    /// A string.
    Text,
    /// One of the names (case-insensitive, with the aliases the value's type takes).
    Choice(fn() -> Vec<&'static str>),
    /// A JSON object.
    Object,
    /// A JSON array.
    List,
}

/// What a field is when it is left out.
#[derive(Clone, Copy, Debug)]
pub enum Default {
    /// It must be given; the words say when (`required`, `required with vllm ...`).
    Required(&'static str),
    /// Nothing: it is not assumed (no quantization, no limit, no model).
    Absent,
    /// This value.
    Value(fn() -> Value),
    /// What the calculator does, in words (it depends on the model or other fields).
    Described(fn() -> String),
}

impl Default {
    /// The default as `/api/config/options` states it: `null` when there is none.
    pub fn json(self) -> Value {
        match self {
            Default::Required(_) | Default::Absent => Value::Null,
            Default::Value(value) => value(),
            Default::Described(words) => Value::String(words()),
        }
    }
}

/// What part of a request a field is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Names or sizes the model: `model_name`, `config`, `model_size`.
    Model,
    /// An explicit architecture value (the model given by its shape).
    Explicit,
    /// The workload of a memory endpoint.
    Workload,
    /// A plan's own.
    Plan,
    /// A compare's own.
    Compare,
}

/// One request field.
#[derive(Clone, Copy, Debug)]
pub struct Field {
    /// The name, as requests spell it.
    pub name: &'static str,
    /// The endpoints that take it.
    pub on: &'static [Endpoint],
    /// What part of the request it is.
    pub role: Role,
    /// Its type, range or choices.
    pub kind: Kind,
    /// What it is when left out.
    pub default: Default,
    /// A plan's default where it differs from the memory endpoint's (`engine`).
    pub plan_default: Option<Default>,
    /// One line: what it is.
    pub doc: &'static str,
    /// Where a request that sends it to an endpoint without it is pointed
    /// ("is not used here; it belongs to ..."); `None`: it is just unknown there.
    pub belongs: Option<&'static str>,
    /// Why a plan refuses it: the plan sets it per candidate.
    pub set_by_plan: Option<&'static str>,
}

impl Field {
    /// Whether `endpoint` takes it.
    pub fn on(&self, endpoint: Endpoint) -> bool {
        self.on.contains(&endpoint)
    }

    /// The integer range of an [`Kind::Integer`] field.
    pub fn range(&self) -> Option<FieldRange> {
        match self.kind {
            Kind::Integer(r) => Some(r),
            _ => None,
        }
    }

    /// The names a [`Kind::Choice`] field takes.
    pub fn choices(&self) -> Option<Vec<&'static str>> {
        match self.kind {
            Kind::Choice(names) => Some(names()),
            _ => None,
        }
    }
}
