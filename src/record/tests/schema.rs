use serde_json::Value;

use super::fixtures::*;

fn schema() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/record.schema.json");
    let text = std::fs::read_to_string(path).expect("schema file present");
    serde_json::from_str(&text).expect("schema is JSON")
}

fn valid(schema: &Value, instance: &Value) -> bool {
    jsonschema::validator_for(schema)
        .expect("schema compiles")
        .is_valid(instance)
}

#[test]
fn records_from_the_types_validate() {
    let schema = schema();
    for record in [sample_record("SN-1", 0), full_record("SN-2", 5)] {
        let value = serde_json::to_value(&record).unwrap();
        assert!(valid(&schema, &value), "{value:#}");
    }
}

#[test]
fn broken_records_do_not_validate() {
    let schema = schema();
    let good = serde_json::to_value(full_record("SN-1", 0)).unwrap();
    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("outcome");
    let mut cases = vec![missing];
    let edits: [(&str, Value); 5] = [
        ("/outcome", "MAYBE".into()),
        ("/kind", "party".into()),
        ("/started_at", "2026-09-21T14:13:20+01:00".into()),
        ("/uid", "0123".into()),
        ("/profile/sha256", "xyz".into()),
    ];
    for (pointer, bad) in edits {
        let mut value = good.clone();
        *value.pointer_mut(pointer).unwrap() = bad;
        cases.push(value);
    }
    for value in cases {
        assert!(!valid(&schema, &value), "{value:#}");
    }
}

/// The schema allows unknown fields for forward compatibility; a strict
/// copy proves it still names every field the types write.
#[test]
fn schema_names_every_serialized_field() {
    let mut strict = schema();
    forbid_unknown_properties(&mut strict);
    let value = serde_json::to_value(full_record("SN-1", 0)).unwrap();
    assert!(valid(&strict, &value));
    let mut extra = value.clone();
    extra["surprise"] = true.into();
    assert!(!valid(&strict, &extra), "strict copy really is strict");
}

fn forbid_unknown_properties(node: &mut Value) {
    match node {
        Value::Object(map) => {
            if map.contains_key("properties") && !map.contains_key("additionalProperties") {
                map.insert("additionalProperties".into(), false.into());
            }
            map.values_mut().for_each(forbid_unknown_properties);
        }
        Value::Array(items) => items.iter_mut().for_each(forbid_unknown_properties),
        _ => {}
    }
}
