/** The sans-IO protocol core: framing, lifecycle lines, JSON-RPC, the host-side session. No processes, no I/O. */

export { LineSplitter, isOversize, type OversizeLine, type SplitLine } from "./framing.js";
export {
  JsonSyntaxError,
  MAX_NESTING_DEPTH,
  arrayElements,
  nestingDepth,
  objectMembers,
  rawKind,
  validateJson,
  type RawKind,
  type RawMember,
} from "./json-scan.js";
export {
  ErrorCodes,
  decodeElement,
  decodeLine,
  encodeNotification,
  encodeRequest,
  errorKind,
  type Batch,
  type Decoded,
  type ErrorObject,
  type ErrorReply,
  type Ignored,
  type InvalidMessage,
  type Message,
  type Notification,
  type Request,
  type Response,
} from "./jsonrpc.js";
export {
  LIFECYCLE_TOKENS,
  LifecycleError,
  formatLifecycle,
  isLifecycleLine,
  parseLifecycle,
  type LifecycleLine,
  type LifecycleToken,
} from "./lifecycle.js";
export {
  CallTable,
  SHOWN_LINE_CHARS,
  StdoutSession,
  showLine,
  type AnswerEvent,
  type BootEvent,
  type HeartbeatEvent,
  type NotificationEvent,
  type ReadyEvent,
  type ShutdownEvent,
  type StdoutEvent,
  type ViolationEvent,
  type ViolationKind,
} from "./session.js";
