export { AGENT_FILE_FORMAT, AgentFileError, agentFileLines, parseAgentFile } from './agentFile.js';
export type { AgentFile, AgentFileCounts, AgentFileHeader, ExportedCheckpoint, ExportedMemory } from './agentFile.js';
export { agentRows } from './agentRows.js';
export { agentEvents, exportAgent, type ExportDeps } from './exportAgent.js';
export { importAgent, type ImportResult } from './importAgent.js';
