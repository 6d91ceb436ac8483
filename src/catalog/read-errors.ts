/** How a client read that was stopped or too large fails, the same on every store. */
import { SqlError, SqlState } from '../errors.js';

/** 57014: the session's statement_timeout (with the limit in force), or the client's CancelRequest. */
export function readCanceled(reason: 'statement timeout' | 'user request', timeoutMs?: number): SqlError {
  return new SqlError(SqlState.queryCanceled, `canceling statement due to ${reason}`, {
    hint: timeoutMs === undefined ? undefined : `This session's statements may run for at most ${timeoutMs} ms (SET statement_timeout lowers it; --statement-timeout-ms is the server's maximum).`,
  });
}

/** 54000: an answer larger than --max-result-bytes (never held whole). */
export function resultTooLarge(maxResultBytes: number): SqlError {
  return new SqlError(SqlState.programLimitExceeded, `result exceeds the maximum size of ${maxResultBytes} bytes`, {
    hint: 'Select fewer rows or columns (WHERE, LIMIT), or raise --max-result-bytes.',
  });
}
