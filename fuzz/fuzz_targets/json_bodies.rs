//! The JSON bodies the server reads (signed POSTs) and the RA reads (answers): every
//! keyward-proto type. The first byte picks the type. A body that parses must serialize and
//! parse back to the same JSON value (what the RA signs is what the server reads).
#![no_main]

use keyward_proto::*;
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;
use serde::Serialize;

fn round_trip<T: Serialize + DeserializeOwned>(body: &[u8]) {
    let Ok(first) = serde_json::from_slice::<T>(body) else {
        return;
    };
    let value = serde_json::to_value(&first).unwrap();
    let bytes = serde_json::to_vec(&first).unwrap();
    let second: T = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
        panic!("{} does not read back its own JSON: {e}", std::any::type_name::<T>())
    });
    assert_eq!(value, serde_json::to_value(&second).unwrap());
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    match pick % 20 {
        0 => round_trip::<IssueRequest>(body),
        1 => round_trip::<CreatePinLetters>(body),
        2 => round_trip::<DeliverPinMail>(body),
        3 => round_trip::<ApprovalVote>(body),
        4 => round_trip::<IssueResponse>(body),
        5 => round_trip::<ProcedureList>(body),
        6 => round_trip::<RaConfig>(body),
        7 => round_trip::<WhoAmI>(body),
        8 => round_trip::<Vec<CertificateInfo>>(body),
        9 => round_trip::<Vec<ArchivedKeyInfo>>(body),
        10 => round_trip::<ApiError>(body),
        11 => round_trip::<PinLetterBatch>(body),
        12 => round_trip::<Vec<PinLetterInfo>>(body),
        13 => round_trip::<Vec<PinMailInfo>>(body),
        14 => round_trip::<PinMailDelivery>(body),
        15 => round_trip::<PinMailIds>(body),
        16 => round_trip::<Vec<ApprovalInfo>>(body),
        17 => round_trip::<SealedKey>(body),
        18 => round_trip::<Vec<IssuedAttributeCertificate>>(body),
        _ => round_trip::<PinDeliveryInfo>(body),
    }
});
