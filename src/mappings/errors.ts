import { ClientError } from '../errors.js';

/**
 * Why a mapping failed: `syntax` (it does not compile), `evaluation` (JSONata refused the data, e.g. a
 * type error), `timeout` (over MAPPING_TIMEOUT_MS, or a thread stuck in one native call and stopped),
 * `depth` (recursion too deep), `output-too-large` (its JSON over MAPPING_MAX_OUTPUT_BYTES),
 * `expression-too-long`, `resources` (the thread ran out of memory), `not-json` (it returned a function).
 */
export type MappingFailure = 'syntax' | 'evaluation' | 'timeout' | 'depth' | 'output-too-large' | 'expression-too-long' | 'resources' | 'not-json';

const TITLES: Record<MappingFailure, string> = {
  syntax: 'Mapping syntax error',
  evaluation: 'Mapping evaluation error',
  timeout: 'Mapping time limit exceeded',
  depth: 'Mapping recursion too deep',
  'output-too-large': 'Mapping output too large',
  'expression-too-long': 'Mapping expression too long',
  resources: 'Mapping resource limit exceeded',
  'not-json': 'Mapping result is not JSON',
};

/** What JSONata said: its error code (`S0202`, `T2001`, …), the character position in the expression, and the token. */
export interface JsonataErrorInfo {
  kind: MappingFailure;
  message: string;
  code?: string;
  position?: number;
  token?: string;
}

/**
 * A mapping that cannot produce a result for this input. The expression (or the record) is at fault, so
 * repeating the same evaluation cannot help: never retriable. At the API it is a 422 whose field error
 * names the expression.
 */
export class MappingError extends ClientError {
  readonly kind: MappingFailure;
  readonly jsonataCode: string | undefined;
  readonly position: number | undefined;
  readonly token: string | undefined;
  /** The short title of the failure ("Mapping time limit exceeded"). */
  readonly title: string;
  /** JSONata's own words, with the code and position when it gave them. */
  readonly detail: string;

  constructor(info: JsonataErrorInfo) {
    const detail = describe(info);
    super(detail, { status: 422, code: `mapping-${info.kind}`, errors: [{ location: 'body', name: 'expression', message: detail }] });
    this.kind = info.kind;
    this.jsonataCode = info.code;
    this.position = info.position;
    this.token = info.token;
    this.title = TITLES[info.kind];
    this.detail = detail;
  }
}

function describe(info: JsonataErrorInfo): string {
  const where = [info.code, info.position === undefined ? undefined : `at position ${info.position}`].filter(Boolean).join(' ');
  return where ? `${where}: ${info.message}` : info.message;
}
