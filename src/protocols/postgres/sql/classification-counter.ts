import type { ScrapedCounter } from '../../../core/metrics.js';
import type { SqlClassifier } from './classify.js';

/**
 * A classifier's running totals as a metric, read at each scrape. The PostgreSQL listener registers its classifier's
 * with the gateway's metrics, so the metrics implementation (admin/) never imports a protocol.
 */
export function sqlClassificationCounter(classifier: SqlClassifier): ScrapedCounter {
  return {
    name: 'gatehouse_sql_classifications_total',
    help: 'SQL messages classified since the listener started, by how: exact (same text cached), shape (same text but its constants cached), parsed',
    label: 'source',
    read: () => ({ ...classifier.counts() }),
  };
}
