import { defineConfig, oneOf } from './config.js';
import { LOG_LEVELS } from './logger.js';

export const loggingConfigSpec = defineConfig({
  logLevel: oneOf('LOG_LEVEL', LOG_LEVELS, { doc: 'Log level (JSON lines on stdout)', default: 'info' }),
});
