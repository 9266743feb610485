export { TestStack, uniqueNamespace, freePort, waitFor, redisDigest, warmDigest } from './stack.js';
export type { ServiceName, StackOptions } from './stack.js';
export { makeEvent, publishEvents, publishRaw, publishSession, readStream, tradingSession } from './events.js';
export { PrivateNats, PrivateRedis, PrivatePostgres, startPrivateServers } from './privateServers.js';
export { propertyRuns, safeText, safeId, HOSTILE_CHARS, hostileString, incompressible, HOSTILE_NUMBERS, hostileNumber, safeJson, SYMBOLS, tradingSessionArb, interleave, groupIntoMessages, cutBatches, duplicateSpecArb, withDuplicates, canonicalMessages, ruleEventArb, type CanonicalMsg, type MessageSpec, type DuplicateSpec, type DuplicateKind, type SessionOptions, type FieldMode, type RuleEventOptions } from './arbitraries.js';
