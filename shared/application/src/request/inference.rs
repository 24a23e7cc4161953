//! An inference workload: the fields of `/api/memory/inference` (and of an inference
//! plan) into the calculator's [`InferenceRequest`], read in the order the API
//! documents them so that the first bad field is the one named. Defaults are
//! [`InferenceRequest::new`]'s.

use calculator::{InferenceRequest, Logits, Precision, Quantization};

use super::engine::{self, Context};
use super::fields::{
    BATCH_SIZE, GROUP_SIZE, KV_CACHE_PRECISION, LOAD_MTP, LOGITS, MAX_NEW_TOKENS, NO_QUANTIZATION,
    NUM_GPUS, PRECISION, QUANTIZATION, SEQUENCE_LENGTH, USE_FLASH_ATTENTION,
};
use super::reader::{set, Fields};
use crate::http::ApiError;

/// `quantization`: a format name, or `none` for no named format.
pub(crate) fn quantization(f: &Fields) -> Result<Option<Quantization>, ApiError> {
    let parse = |t: &str| {
        if t.trim().eq_ignore_ascii_case(NO_QUANTIZATION) {
            Some(None)
        } else {
            <Quantization as calculator::Choice>::parse(t).map(Some)
        }
    };
    Ok(f.choice_with(&QUANTIZATION, parse)?.flatten())
}

/// The inference request of `f`; `context` says whether a memory endpoint or a plan
/// reads it (they differ in the engine's default and its GPU). `sized` gives the batch,
/// prompt and output lengths when a traffic sets them (a plan's), instead of
/// `batch_size`, `sequence_length` and `max_new_tokens`.
pub(crate) fn read(
    f: &Fields,
    context: Context,
    sized: Option<(u64, u64, u64)>,
) -> Result<InferenceRequest, ApiError> {
    let precision = f.choice::<Precision>(&PRECISION)?;
    let quantization = quantization(f)?;
    let group_size = f.uint(&GROUP_SIZE)?;
    let kv_cache_precision = f.choice::<Precision>(&KV_CACHE_PRECISION)?;
    let mut req = match sized {
        Some((batch, prompt, output)) => {
            if let Some(field) = [&BATCH_SIZE, &SEQUENCE_LENGTH, &MAX_NEW_TOKENS]
                .into_iter()
                .find(|field| f.has(field.name))
            {
                return Err(ApiError::field(
                    &f.path(field.name),
                    "a plan with a traffic sizes its requests from input_tokens and output_tokens; leave this out",
                ));
            }
            let mut req = InferenceRequest::new(batch, prompt);
            req.max_new_tokens = output;
            req
        }
        None => {
            let mut req = InferenceRequest::new(
                f.required_uint(&BATCH_SIZE)?,
                f.required_uint(&SEQUENCE_LENGTH)?,
            );
            set(&mut req.max_new_tokens, f.uint(&MAX_NEW_TOKENS)?);
            req
        }
    };
    req.precision = precision;
    req.quantization = quantization;
    req.group_size = group_size;
    req.kv_cache_precision = kv_cache_precision;
    set(&mut req.logits, f.choice::<Logits>(&LOGITS)?);
    set(
        &mut req.use_flash_attention,
        f.boolean(&USE_FLASH_ATTENTION)?,
    );
    set(&mut req.load_mtp, f.boolean(&LOAD_MTP)?);
    set(&mut req.num_gpus, f.uint(&NUM_GPUS)?);
    req.engine = engine::read(f, context)?;
    Ok(req)
}
