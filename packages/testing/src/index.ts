export { TestStack, uniqueNamespace, freePort, waitFor, redisDigest, warmDigest } from './stack.js';
export type { ServiceName, StackOptions } from './stack.js';
export { makeEvent, publishEvents, publishRaw, tradingSession } from './events.js';
