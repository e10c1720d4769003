/** Entry point of the API module. */
export { API_PATHS, buildApi } from './app.js';
export { ApiError, type ApiErrorBody } from './errors.js';
export { type ChainProbe, type ProbeHealthOptions, probeHealth } from './health.js';
export type {
  ApiDeps,
  ChainHealthReport,
  ChainInfo,
  ChannelInfo,
  ComponentHealth,
  HealthReport,
} from './types.js';
export { chainInfoFromConfig, channelInfoFromConfig } from './types.js';
