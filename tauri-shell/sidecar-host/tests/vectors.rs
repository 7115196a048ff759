//! The sans-IO core against the SAME shared vectors as the Python protocol
//! core (`tests/vectors/*.json` at the repository root): decode, lifecycle,
//! framing. Each vector file's `description` says how to read it.

use std::path::PathBuf;

use serde_json::{json, Value};
use sidecar_host::protocol::{
    decode_line, format_lifecycle, parse_lifecycle, Decoded, Line, LineSplitter, Message, Token,
};

fn vectors_dir() -> PathBuf {
    match std::env::var_os("SIDECAR_VECTORS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors"),
    }
}

fn load(name: &str) -> Value {
    let path = vectors_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

fn input(case: &Value) -> Vec<u8> {
    match case.get("input_hex") {
        Some(h) => hex(h.as_str().unwrap()),
        None => case["input"].as_str().unwrap().as_bytes().to_vec(),
    }
}

/// A decoded message in the vectors' `decode` shape.
fn describe_message(message: &Message) -> Value {
    match message {
        Message::Request { id, method, params } => json!({
            "type": "request", "id": id.get(), "method": method, "params": params.as_ref().map(|p| p.get()),
        }),
        Message::Notification { method, params } => json!({
            "type": "notification", "method": method, "params": params.as_ref().map(|p| p.get()),
        }),
        Message::Response { id, result } => json!({"type": "response", "id": id.get(), "result": result.get()}),
        Message::ErrorReply { id, error } => json!({"type": "error_reply", "id": id.get(), "code": error.code}),
        Message::Invalid { id, error } => json!({"type": "invalid", "id": id.get(), "code": error.code}),
        other => panic!("unexpected message {other:?}"),
    }
}

fn describe(decoded: &Decoded) -> Value {
    match decoded {
        Decoded::Ignored => json!({"type": "ignored"}),
        Decoded::Single(message) => describe_message(message),
        Decoded::Batch(items) => {
            json!({"type": "batch", "items": items.iter().map(describe_message).collect::<Vec<_>>()})
        }
    }
}

/// The vector's expectation with `params` made explicit (absent = null).
fn normalise(expected: &Value) -> Value {
    let mut out = expected.clone();
    let kind = out["type"].as_str().unwrap().to_owned();
    if kind == "request" || kind == "notification" {
        out.as_object_mut().unwrap().entry("params").or_insert(Value::Null);
    }
    if kind == "batch" {
        let items: Vec<Value> = out["items"].as_array().unwrap().iter().map(normalise).collect();
        out["items"] = Value::Array(items);
    }
    out
}

#[test]
fn jsonrpc_decode_vectors() {
    let vectors = load("jsonrpc.json");
    let cases = vectors["cases"].as_array().unwrap();
    assert!(cases.len() >= 50, "expected the full vector set, found {}", cases.len());
    let mut failures = Vec::new();
    for case in cases {
        let mut line = input(case);
        if line.last() == Some(&b'\r') {
            line.pop(); // what the framer hands over
        }
        let got = describe(&decode_line(&line));
        let want = normalise(&case["decode"]);
        if got != want {
            failures.push(format!("{}: got {got}, want {want}", case["name"]));
        }
    }
    assert!(failures.is_empty(), "{} vector(s) failed:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn decoder_accepts_a_trailing_cr_itself() {
    assert!(matches!(
        decode_line(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"m\"}\r"),
        Decoded::Single(Message::Request { .. })
    ));
}

#[test]
fn invalid_messages_always_name_their_kind() {
    let vectors = load("jsonrpc.json");
    for case in vectors["cases"].as_array().unwrap() {
        let items = match decode_line(&input(case)) {
            Decoded::Single(m) => vec![m],
            Decoded::Batch(items) => items,
            Decoded::Ignored => vec![],
        };
        for item in items {
            if let Message::Invalid { error, .. } = item {
                let kind = error.kind().unwrap();
                assert!(kind == "parse_error" || kind == "invalid_request", "{}: {kind}", case["name"]);
                assert!(!error.data.as_ref().unwrap()["detail"].as_str().unwrap().is_empty());
            }
        }
    }
}

fn token(s: &str) -> Token {
    Token::from_wire(s).unwrap()
}

#[test]
fn lifecycle_valid_vectors() {
    let vectors = load("lifecycle.json");
    let cases = vectors["valid"].as_array().unwrap();
    assert!(!cases.is_empty());
    for case in cases {
        let line = case["line"].as_str().unwrap();
        let parsed = parse_lifecycle(line.as_bytes()).unwrap_or_else(|e| panic!("{line:?}: {e}"));
        assert_eq!(parsed.token, token(case["token"].as_str().unwrap()), "{line:?}");
        let want: Vec<(String, String)> = case["fields"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
            .collect();
        let mut got = parsed.fields.clone();
        let mut want_sorted = want.clone();
        got.sort();
        want_sorted.sort();
        assert_eq!(got, want_sorted, "{line:?}");
        // The same line with its newline parses the same.
        let with_newline = format!("{line}\n");
        assert_eq!(parse_lifecycle(with_newline.as_bytes()).unwrap(), parsed);
    }
}

#[test]
fn lifecycle_invalid_vectors() {
    let vectors = load("lifecycle.json");
    for case in vectors["invalid"].as_array().unwrap() {
        let line = case["line"].as_str().unwrap();
        assert!(parse_lifecycle(line.as_bytes()).is_err(), "accepted {line:?} ({})", case["why"]);
    }
}

#[test]
fn lifecycle_encoder_refuses_vectors() {
    let vectors = load("lifecycle.json");
    for case in vectors["format_invalid"].as_array().unwrap() {
        let fields: Vec<(String, String)> = case["fields"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
            .collect();
        let borrowed: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert!(format_lifecycle(case["token"].as_str().unwrap(), &borrowed).is_err(), "wrote {}", case["why"]);
    }
}

#[test]
fn lifecycle_round_trip() {
    let vectors = load("lifecycle.json");
    for case in vectors["valid"].as_array().unwrap() {
        let line = case["line"].as_str().unwrap();
        if line.ends_with('\r') {
            continue;
        }
        let parsed = parse_lifecycle(line.as_bytes()).unwrap();
        let fields: Vec<(&str, &str)> = parsed.fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(format_lifecycle(parsed.token.as_str(), &fields).unwrap(), format!("{line}\n"));
    }
}

/// Vector strings hold bytes as code points < 256.
fn latin1(s: &str) -> Vec<u8> {
    s.chars().map(|c| u8::try_from(c as u32).expect("byte")).collect()
}

#[test]
fn framing_vectors() {
    let vectors = load("framing.json");
    let cases = vectors["cases"].as_array().unwrap();
    assert!(!cases.is_empty());
    for case in cases {
        let mut splitter = LineSplitter::new(case["max_frame_bytes"].as_u64().unwrap() as usize);
        let mut got = Vec::new();
        for chunk in case["chunks"].as_array().unwrap() {
            got.extend(splitter.feed(&latin1(chunk.as_str().unwrap())));
        }
        got.extend(splitter.finish());
        let want: Vec<Line> = case["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| match l {
                Value::String(s) => Line::Complete(latin1(s)),
                other => Line::Oversize {
                    size: other["oversize"].as_u64().unwrap() as usize,
                    limit: case["max_frame_bytes"].as_u64().unwrap() as usize,
                },
            })
            .collect();
        assert_eq!(got, want, "{}", case["name"]);
    }
}
