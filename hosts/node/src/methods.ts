/**
 * Typed calls and notifications over the generated schema types (src/generated/methods.ts).
 *
 * `call("db.query", { sql: 1 })` does not compile; `call("app.custom", anything)` does
 * (methods the generated file does not know, an app's own or the test.* ones, are
 * `unknown` in and out). Host-only methods do not compile through `call` at all: they go
 * through `callHost`, which adds the host key the caller never sees.
 */

import type { HOST_ONLY_METHODS, SidecarMethods, SidecarNotifications } from "./generated/methods.js";

/** A method the generated types describe. */
export type KnownMethod = keyof SidecarMethods;
/** A method only the host's own code may call (its params carry the host key). */
export type HostOnlyMethod = (typeof HOST_ONLY_METHODS)[number];
/** A notification the generated types describe. */
export type KnownNotification = keyof SidecarNotifications;

/** Options of one call. timeoutMs: how long to wait for the answer (then `rpc.cancel` is sent). */
export interface CallOptions {
  readonly timeoutMs?: number;
}

/** The params of `M` (unknown for a method the types do not describe). */
export type ParamsOf<M extends string> = M extends KnownMethod ? SidecarMethods[M]["params"] : unknown;
/** The result of `M` (unknown for a method the types do not describe). */
export type ResultOf<M extends string> = M extends KnownMethod ? SidecarMethods[M]["result"] : unknown;
/** The params of host-only `M` without the host key, which `callHost` adds. */
export type HostParamsOf<M extends HostOnlyMethod> = Omit<SidecarMethods[M]["params"], "host_key">;

/** What `call` refuses for a host-only method, as a type error that says what to do. */
export interface UseCallHostInstead {
  readonly "use callHost() for host-only methods": never;
}

/** The arguments after the method name: params required when the method has required params. */
export type CallArgs<M extends string> = M extends HostOnlyMethod
  ? [params: UseCallHostInstead, options?: CallOptions]
  : M extends KnownMethod
    ? Record<string, never> extends ParamsOf<M>
      ? [params?: ParamsOf<M>, options?: CallOptions]
      : [params: ParamsOf<M>, options?: CallOptions]
    : [params?: unknown, options?: CallOptions];

/** The params of notification `N` (unknown for one the types do not describe). */
export type NotificationParamsOf<N extends string> = N extends KnownNotification ? SidecarNotifications[N] : unknown;

/** One notification as delivered to a catch-all listener. params: decoded JSON (null when absent). */
export interface SidecarNotification {
  readonly method: string;
  readonly params: unknown;
}
