/**
 * Which sidecar methods an untrusted caller (an Electron renderer, a webview) may call:
 * the same rules as the Rust crate's `policy.rs`, so an Electron app and the Tauri app
 * draw the line in the same place (docs/SECURITY.md, layer 1).
 *
 * * deny by default: no allow rule, no call;
 * * a deny rule beats every allow rule;
 * * an allow rule may pin params (`{ method: "db.query", params: { allow_write: false } }`):
 *   the call is forwarded with those members forced, so a read-only console stays
 *   read-only whatever the page sends; positional params cannot carry a pin and are refused;
 * * a privileged method ({@link PRIVILEGED_METHODS}, {@link PRIVILEGED_NAMESPACES}, and
 *   whatever `rpc.discover` marks host-only) is refused whatever the rules say.
 *
 * No I/O: unit-tested in tests/policy.test.ts.
 */

/**
 * Methods no page may call: they stop the engine, hand out secret values, widen what the
 * engine may touch on disk, or act on the host's own requests (`rpc.cancel` takes a
 * request id, and the ids are the host's).
 */
export const PRIVILEGED_METHODS: readonly string[] = ["system.shutdown", "secrets.get", "files.grant", "files.revoke", "rpc.cancel"];
/** Namespaces no page may call: the test-only methods. */
export const PRIVILEGED_NAMESPACES: readonly string[] = ["test", "testing"];
/** Keys of a method in `rpc.discover` that mark it as the host's only. */
export const DISCOVERY_PRIVILEGE_MARKERS: readonly string[] = ["x-host-only", "x-privileged"];
/** The longest method name a caller may send. */
export const MAX_METHOD_NAME_LENGTH = 128;

/** One allow or deny entry: an exact name (`db.query`), a namespace (`jobs.*`) or `*`; pinned params (allow only). */
export interface MethodRule {
  readonly method: string;
  readonly params?: Readonly<Record<string, unknown>>;
}

/** Why a call was refused. */
export type Refusal = "not_granted" | "denied" | "privileged" | "malformed";

/** A granted call: the params to force on it, if any. */
export interface Permit {
  readonly pinned: Readonly<Record<string, unknown>> | null;
}

/** A rule whose pattern cannot be used. */
export class InvalidRule extends Error {
  override readonly name = "InvalidRule";
  constructor(
    readonly pattern: string,
    reason: string,
  ) {
    super(`invalid sidecar method rule ${JSON.stringify(pattern)}: ${reason} (use an exact name such as "db.query", a namespace such as "jobs.*", or "*")`);
  }
}

/** Params that cannot carry the pinned members (positional, or not an object). */
export class UnpinnableParams extends Error {
  override readonly name = "UnpinnableParams";
  constructor() {
    super("this method is granted with pinned params: pass params by name (a JSON object)");
  }
}

type Pattern = { readonly kind: "exact"; readonly name: string } | { readonly kind: "namespace"; readonly name: string } | { readonly kind: "any" };

/** Dot-separated words of ASCII letters, digits and `_`, at most {@link MAX_METHOD_NAME_LENGTH}. */
function wellFormed(name: string): boolean {
  return name.length > 0 && name.length <= MAX_METHOD_NAME_LENGTH && name.split(".").every((word) => /^[A-Za-z0-9_]+$/.test(word));
}

function parsePattern(pattern: string): Pattern {
  if (pattern === "*") return { kind: "any" };
  if (pattern.endsWith(".*")) {
    const namespace = pattern.slice(0, -2);
    if (!wellFormed(namespace)) throw new InvalidRule(pattern, 'the namespace before ".*" must be a method name prefix such as "jobs"');
    return { kind: "namespace", name: namespace };
  }
  if (pattern.includes("*")) throw new InvalidRule(pattern, '"*" may only stand alone or end a namespace ("jobs.*")');
  if (!wellFormed(pattern) || !pattern.includes(".")) {
    throw new InvalidRule(pattern, 'a method name is dot-separated words of letters, digits and "_"');
  }
  return { kind: "exact", name: pattern };
}

function matches(pattern: Pattern, method: string): boolean {
  switch (pattern.kind) {
    case "exact":
      return pattern.name === method;
    case "namespace":
      return method.length > pattern.name.length + 1 && method.startsWith(pattern.name + ".");
    case "any":
      return true;
  }
}

/** The methods an OpenRPC document from `rpc.discover` marks as the host's only. */
export function privilegedInDiscovery(doc: unknown): string[] {
  const methods = typeof doc === "object" && doc !== null && "methods" in doc && Array.isArray(doc.methods) ? (doc.methods as unknown[]) : [];
  const found = new Set<string>();
  for (const method of methods) {
    if (typeof method !== "object" || method === null) continue;
    const entry = method as Record<string, unknown>;
    if (DISCOVERY_PRIVILEGE_MARKERS.some((key) => entry[key] === true) && typeof entry["name"] === "string") found.add(entry["name"]);
  }
  return [...found].sort();
}

/** Decides one caller's calls: allow rules, deny rules, the privileged set. */
export class MethodPolicy {
  private readonly allow: { readonly pattern: Pattern; readonly pinned: Readonly<Record<string, unknown>> | null }[];
  private readonly deny: Pattern[];
  private readonly privileged: Set<string>;

  /** Throws {@link InvalidRule} for a pattern that cannot be used. `privileged`: names beside the fixed ones (from discovery). */
  constructor(allow: readonly (MethodRule | string)[], deny: readonly (MethodRule | string)[] = [], privileged: Iterable<string> = []) {
    const rule = (r: MethodRule | string): MethodRule => (typeof r === "string" ? { method: r } : r);
    this.allow = allow.map(rule).map((r) => ({ pattern: parsePattern(r.method), pinned: r.params ?? null }));
    this.deny = deny.map(rule).map((r) => parsePattern(r.method));
    this.privileged = new Set(privileged);
  }

  /** Whether `method` is the host's only. */
  isPrivileged(method: string): boolean {
    return (
      PRIVILEGED_METHODS.includes(method) ||
      PRIVILEGED_NAMESPACES.some((ns) => method.length > ns.length + 1 && method.startsWith(ns + ".")) ||
      this.privileged.has(method)
    );
  }

  /**
   * The {@link Permit} if `method` may be called, else why not. Checked in this order:
   * malformed, privileged, denied, not granted. When several allow rules match, the widest
   * wins: none of them pins params if one does not, else the first one's pins.
   */
  decide(method: string): { readonly ok: true; readonly permit: Permit } | { readonly ok: false; readonly refusal: Refusal } {
    if (!wellFormed(method)) return { ok: false, refusal: "malformed" };
    if (this.isPrivileged(method)) return { ok: false, refusal: "privileged" };
    if (this.deny.some((p) => matches(p, method))) return { ok: false, refusal: "denied" };
    const matching = this.allow.filter((r) => matches(r.pattern, method));
    const first = matching[0];
    if (first === undefined) return { ok: false, refusal: "not_granted" };
    const pinned = matching.some((r) => r.pinned === null) ? null : first.pinned;
    return { ok: true, permit: { pinned } };
  }
}

/** The params to forward: `params` with the permit's pinned members forced; throws {@link UnpinnableParams}. */
export function applyPins(permit: Permit, params: unknown): unknown {
  if (permit.pinned === null) return params;
  if (params !== undefined && params !== null && (typeof params !== "object" || Array.isArray(params))) throw new UnpinnableParams();
  return { ...(params ?? {}), ...permit.pinned };
}

/** A sentence for people about a refusal of `method`. */
export function explainRefusal(refusal: Refusal, method: string): string {
  switch (refusal) {
    case "not_granted":
      return `${JSON.stringify(method)} is not granted to this window: add it to the page's allow-list`;
    case "denied":
      return `${JSON.stringify(method)} is denied to this window`;
    case "privileged":
      return `${JSON.stringify(method)} is privileged: only the host's own code may call it, whatever an allow-list says`;
    case "malformed":
      return `${JSON.stringify(method)} is not a method name (dot-separated words of letters, digits and "_")`;
  }
}
