import type { ScrapedCounter } from '../../../core/metrics.js';
import { classifierCounts } from './classify.js';

/**
 * The classifier's running totals as a metric, read at each scrape. The PostgreSQL listener registers it with the
 * gateway's metrics, so the metrics implementation (admin/) never imports a protocol.
 */
export const sqlClassificationCounter: ScrapedCounter = {
  name: 'gatehouse_sql_classifications_total',
  help: 'SQL messages classified since the process started, by how: exact (same text cached), shape (same text but its constants cached), parsed',
  label: 'source',
  read: () => ({ ...classifierCounts() }),
};
