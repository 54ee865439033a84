-- The quickstart's documents (src/quickstart/vectors-database.ts), for the pgvector backend in deploy/compose/.
-- Fake personal data in the tickets gives masking something to find. Runs once, when the data volume is new.
CREATE EXTENSION IF NOT EXISTS vector;
CREATE TABLE documents (
  id integer PRIMARY KEY,
  tenant_id text NOT NULL,
  title text NOT NULL,
  body text NOT NULL,
  embedding vector(3) NOT NULL
);
INSERT INTO documents (id, tenant_id, title, body, embedding) VALUES
  (1, 'acme', 'Refund policy', 'Refunds are issued within 14 days of purchase to the original payment method.', '[0.9,0.1,0.0]'),
  (2, 'acme', 'Shipping times', 'Standard shipping takes 3 to 5 business days; express shipping takes 1 day.', '[0.1,0.9,0.0]'),
  (3, 'acme', 'Ticket 4711: refund request', 'Customer Jane Roe (jane.roe@example.com, +1 415 555 0132) asks for a refund to card 4111 1111 1111 1111.', '[0.8,0.2,0.1]'),
  (4, 'globex', 'Password reset', 'Users reset their password from the sign-in page; links expire after 30 minutes.', '[0.0,0.2,0.9]'),
  (5, 'globex', 'Ticket 0815: delivery address change', 'John Doe (john.doe@example.org, +44 20 7946 0958) moved; charge card 5555 5555 5555 4444 for express.', '[0.2,0.8,0.1]'),
  (6, 'globex', 'Data retention', 'Support tickets are kept for 90 days, then deleted together with their attachments.', '[0.1,0.1,0.8]');
