/** Bring-your-own-data training: a lender's own table → cross-validated model + encoder (`riskfuse train`). */
export { loadByoModel, readByoModelFile, type ByoModel } from './byo-model.js';
export {
  crossValidate,
  type CrossValidateOptions,
  type CrossValidationResult,
  type CvProgress,
  type ModelCvSummary,
  type TrainSettings,
} from './cross-validate.js';
export { MISSING_TOKENS, parseCsv, readCsvFile, type CsvTable, type Delimiter } from './csv.js';
export { TabularEncoder, type CellTable, type EncoderJson } from './encode.js';
export type { ByoModelFile, ByoReport } from './report.js';
export {
  inferColumnType,
  NUMERIC_MIN_DISTINCT,
  parseSpec,
  parseSpecText,
  resolveSpec,
  TabularSpecSchema,
  type FeatureColumn,
  type ResolvedSpec,
  type TabularSpec,
} from './spec.js';
export { trainCommand, trainHelp } from './train-command.js';
