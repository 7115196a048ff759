/**
 * The raw-keeping JSON scanner: it must accept exactly what a strict parser accepts
 * (checked against V8's JSON.parse on hand-picked edge cases and on seeded random
 * mutations of valid frames), and hand out the exact text of each member.
 */

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  JsonSyntaxError,
  MAX_NESTING_DEPTH,
  arrayElements,
  nestingDepth,
  objectMembers,
  validateJson,
} from "../src/protocol/json-scan.js";
import { decodeLine } from "../src/protocol/jsonrpc.js";

function scannerAccepts(text: string): boolean {
  try {
    validateJson(text);
    return true;
  } catch (err) {
    if (err instanceof JsonSyntaxError) return false;
    throw err;
  }
}

function parseAccepts(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

const EDGE_CASES = [
  "0", "-0", "01", "1.", ".5", "1e", "1e+", "1E-2", "-", "+1", "1.5e3", "0x10", "Infinity", "NaN",
  '"\\u00e9"', '"\\u00g9"', '"\\x41"', '"\\/"', '"tab\there"', '"\u2028"', '"\\ud800"', '"unterminated',
  "true", "tru", "nulls", "null null", "[1,]", "[,1]", "[]", "{}", '{"a":1,}', '{"a" 1}', "{a:1}",
  '{"a":1}x', " \t\n\r[1] \n", "\u00a0[1]", "[1]\u0000", '{"":{"":[[]]}}', '["\\"]', '["\\\\"]', "",
];

describe("the scanner agrees with a strict parser", () => {
  for (const text of EDGE_CASES) {
    test(JSON.stringify(text), () => {
      assert.equal(scannerAccepts(text), parseAccepts(text));
    });
  }

  test("on 20,000 seeded mutations of valid frames", () => {
    const seeds = [
      '{"jsonrpc":"2.0","id":123456789012345678901234567890,"result":{"rows":[[1,2.5e-3,"x\\u0041"],[null,true,false]]}}',
      '[{"jsonrpc":"2.0","method":"job.progress","params":{"job_id":"j1","progress":0.5,"message":null}},{"a":[]}]',
      '{"jsonrpc":"2.0","id":"a\\"b","error":{"code":-32000,"message":"m","data":{"kind":"sql_syntax"}}}',
    ];
    const alphabet = ' {}[]",:\\0123456789.eE+-tfnulrsa\t\n\u00e9';
    let state = 0x2545f491;
    const next = (n: number): number => {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      return (state >>> 0) % n;
    };
    let disagreements: string[] = [];
    for (let i = 0; i < 20000; i += 1) {
      const chars = [...(seeds[next(seeds.length)] ?? "")];
      for (let edits = 1 + next(3); edits > 0; edits -= 1) {
        const at = next(chars.length + 1);
        const op = next(3);
        const c = alphabet[next(alphabet.length)] ?? " ";
        if (op === 0) chars.splice(at, 1);
        else if (op === 1) chars.splice(at, 0, c);
        else chars[at] = c;
      }
      const text = chars.join("");
      if (scannerAccepts(text) !== parseAccepts(text)) disagreements.push(text);
    }
    disagreements = disagreements.slice(0, 5);
    assert.deepEqual(disagreements, []);
  });
});

describe("raw members and elements", () => {
  test("values come back as the exact text, keys decoded", () => {
    const members = objectMembers('{ "id" : 1.50 , "\\u006dethod":"a\\u0041", "p": [ 1 , {"x" : null} ] }');
    assert.deepEqual(members, [
      { key: "id", raw: "1.50" },
      { key: "method", raw: '"a\\u0041"' },
      { key: "p", raw: '[ 1 , {"x" : null} ]' },
    ]);
  });

  test("batch elements come back as the exact text", () => {
    assert.deepEqual(arrayElements('[1, "two" ,{"a":[3]}]'), ["1", '"two"', '{"a":[3]}']);
  });

  test("a repeated envelope member: the last one wins, as in the Python core", () => {
    const decoded = decodeLine(Buffer.from('{"jsonrpc":"2.0","id":1,"id":2,"method":"a"}'));
    assert.deepEqual(decoded, { type: "request", id: "2", method: "a", params: null });
  });

  test("an error object's code must be an integer", () => {
    const decoded = decodeLine(Buffer.from('{"jsonrpc":"2.0","id":1,"error":{"code":1.5,"message":"m"}}'));
    assert.equal(decoded.type, "invalid");
  });

  test("a byte order mark is not whitespace", () => {
    const decoded = decodeLine(Buffer.from('\ufeff{"jsonrpc":"2.0","id":1,"result":1}'));
    assert.equal(decoded.type, "invalid");
  });
});

describe("nesting", () => {
  test("brackets inside strings do not count", () => {
    assert.equal(nestingDepth('{"a":"' + "[".repeat(500) + '"}'), 1);
  });

  test("the scanner itself refuses more than the cap, so it can never overflow the stack", () => {
    const deep = "[".repeat(MAX_NESTING_DEPTH + 1) + "]".repeat(MAX_NESTING_DEPTH + 1);
    assert.throws(() => validateJson(deep), JsonSyntaxError);
    const atCap = "[".repeat(MAX_NESTING_DEPTH) + "]".repeat(MAX_NESTING_DEPTH);
    validateJson(atCap);
  });

  test("100,000 levels are a parse error, not a crash", () => {
    const decoded = decodeLine(Buffer.from("[".repeat(100000) + "]".repeat(100000)));
    assert.equal(decoded.type, "invalid");
    assert.equal(decoded.type === "invalid" && decoded.error.code, -32700);
  });
});
