//! Which linear modules LoRA adapts: by kind (`all_linear`, `attention`), by PEFT's
//! default for the model's `model_type`, or by a list of module names as PEFT's
//! `target_modules` takes them (`docs/methodology.md` §7.1).

use super::request::TrainingRequest;
use super::vocabulary::LoraTarget;
use crate::architecture::LinearGroup;
use crate::choice::Choice;
use crate::error::CalcError;
use crate::limits;
use crate::linear::LinearKind;
use crate::model::Model;
use crate::modules::{
    all_module_names, experts_are_parameters, module_names, peft_default_targets,
};
use crate::suggest::clip;
use crate::warning::{Warning, WarningCode};

/// The request field the targets come from.
const FIELD: &str = "lora_target";

/// Whether LoRA adapts the matrices of `g` (under a PEFT method; the caller checks
/// the method).
pub(crate) fn adapts(model: &Model, req: &TrainingRequest, g: &LinearGroup) -> bool {
    if !req.lora_modules.is_empty() {
        return named(model, g, req.lora_modules.iter().map(String::as_str));
    }
    match req.lora_target.adapts_kind(g.kind) {
        Some(adapted) => adapted,
        None => peft_default_targets(peft_model_type(model))
            .is_some_and(|names| named(model, g, names.iter().copied())),
    }
}

/// The `model_type` PEFT looks its default targets up by: the loaded model's, a
/// multimodal wrapper's own where the language model came from its `text_config`.
fn peft_model_type(model: &Model) -> &str {
    let arch = &model.arch;
    arch.wrapper_model_type
        .as_deref()
        .unwrap_or(&arch.model_type)
}

/// Whether any matrix of `kinds` is adapted.
pub(crate) fn adapts_any(model: &Model, req: &TrainingRequest, kinds: &[LinearKind]) -> bool {
    req.method.is_peft()
        && model
            .linears
            .iter()
            .any(|g| kinds.contains(&g.kind) && adapts(model, req, g))
}

/// Whether `g`'s module names include one of `targets`. Routed experts that the model
/// code keeps as parameters, not modules, are out of a name's reach, as they are out
/// of `target_modules`' (PEFT reaches them through `target_parameters`).
fn named<'a>(model: &Model, g: &LinearGroup, mut targets: impl Iterator<Item = &'a str>) -> bool {
    if g.kind == LinearKind::Expert && experts_are_parameters(&model.arch) {
        return false;
    }
    let names = module_names(&model.arch, g);
    targets.any(|t| names.contains(&t))
}

/// Says when a list names only some of the projections a group stands for (a
/// mixer's input projections, sized together): the group is adapted whole, an
/// over-count of the adapters the list asks for.
pub(crate) fn grouped_warnings(model: &Model, req: &TrainingRequest) -> Vec<Warning> {
    let listed = |n: &&str| req.lora_modules.iter().any(|m| m == n);
    model
        .linears
        .iter()
        .map(|g| module_names(&model.arch, g))
        .filter(|names| names.len() > 1 && names.iter().any(listed) && !names.iter().all(listed))
        .map(|names| {
            Warning::new(
                WarningCode::LoraModulesGrouped,
                format!(
                    "{} are sized together here; adapters on all of them are counted, more than the list asks for",
                    names.join(", ")
                ),
            )
        })
        .collect()
}

/// How the answer and errors say what is adapted: the kind's name, or the list.
pub(crate) fn describe(req: &TrainingRequest) -> String {
    if req.lora_modules.is_empty() {
        req.lora_target.name().to_owned()
    } else {
        clip(&format!("[{}]", req.lora_modules.join(", ")))
    }
}

/// Refuses targets that name no module of the model, and PEFT's default where PEFT has
/// none for the model's type, naming the modules the model has.
pub(crate) fn check(model: &Model, req: &TrainingRequest) -> Result<(), CalcError> {
    let arch = &model.arch;
    // The modules a name can reach: not routed experts kept as parameters.
    let reachable: Vec<LinearGroup> = model
        .linears
        .iter()
        .filter(|g| !(g.kind == LinearKind::Expert && experts_are_parameters(arch)))
        .copied()
        .collect();
    let known = all_module_names(arch, &reachable);
    let listing = || known.join(", ");
    if !req.lora_modules.is_empty() {
        limits::LORA_MODULES.check(req.lora_modules.len() as u64)?;
        for (i, name) in req.lora_modules.iter().enumerate() {
            let entry = format!("{FIELD}[{i}]");
            if name.contains('.') {
                return Err(CalcError::field(
                    entry,
                    format!(
                        "{}: give each module by the last part of its name (q_proj, not self_attn.q_proj); this model's linear modules are {}",
                        clip(name),
                        listing()
                    ),
                ));
            }
            if !known.contains(&name.as_str()) {
                let parameter = all_module_names(arch, &model.linears).contains(&name.as_str());
                let why = if parameter {
                    "names this model's routed experts, which its model code keeps as parameters, not modules: PEFT reaches them with target_parameters, not target_modules"
                } else {
                    "is not a linear module of this model"
                };
                return Err(CalcError::field(
                    entry,
                    format!(
                        "{} {why}; its linear modules are {} (routers, norms and embeddings are not adapted here)",
                        clip(name),
                        listing()
                    ),
                ));
            }
        }
        return Ok(());
    }
    if req.lora_target == LoraTarget::PeftDefault {
        let model_type = peft_model_type(model);
        let Some(defaults) = peft_default_targets(model_type) else {
            return Err(CalcError::field(
                FIELD,
                format!(
                    "peft_default: PEFT has no default target modules for model_type {}, and asks for target_modules; list them from this model's linear modules: {}",
                    clip(model_type),
                    listing()
                ),
            ));
        };
        if !defaults.iter().any(|d| known.contains(d)) {
            return Err(CalcError::field(
                FIELD,
                format!(
                    "peft_default: PEFT's default for model_type {} ({}) names none of this model's linear modules: {}",
                    clip(model_type),
                    defaults.join(", "),
                    listing()
                ),
            ));
        }
    }
    Ok(())
}
