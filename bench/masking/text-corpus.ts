/**
 * A large, deterministic text corpus for the throughput benchmark: log lines and support-ticket prose, mostly
 * ordinary words, numbers, timestamps, UUIDs and versions, with a sensitive value every few lines (about 1 in 8).
 */
export function generateTextCorpus(bytes: number, seed = 7): string {
  let a = seed >>> 0;
  const random = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (low: number, high: number) => low + Math.floor(random() * (high - low + 1));
  const pick = <T>(items: readonly T[]): T => items[int(0, items.length - 1)] as T;
  const words =
    'the customer asked about their order and the agent replied that shipping takes three days while the warehouse checks stock levels before dispatch please confirm the address update retry request failed timeout service healthy latency cache miss deployed rollback version build pipeline user session token refreshed'.split(
      ' ',
    );
  const sensitive = [
    () => `mary.jones${int(1, 99)}@example.com`,
    () => `+1 415 555 ${String(int(1000, 9999))}`,
    () => '4242 4242 4242 4242',
    () => `${int(100, 599)}-${int(10, 99)}-${int(1000, 9999)}`,
    () => 'GB82 WEST 1234 5698 7654 32',
    () => `10.${int(0, 255)}.${int(0, 255)}.${int(1, 254)}`,
    () => 'AKIAIOSFODNN7EXAMPLE',
    () => 'password=hunter2x',
  ];
  const noise = [
    () => `2024-${String(int(1, 12)).padStart(2, '0')}-${String(int(1, 28)).padStart(2, '0')}T10:${int(10, 59)}:00Z`,
    () => `v${int(1, 9)}.${int(0, 20)}.${int(0, 9)}`,
    () => `ORD-2024-${int(100000, 999999)}`,
    () => `550e8400-e29b-41d4-a716-${int(100000000000, 999999999999)}`,
    () => String(int(1, 100000)),
  ];
  const parts: string[] = [];
  let size = 0;
  while (size < bytes) {
    let line = `${noise[0]?.()} INFO`;
    const count = int(8, 20);
    for (let i = 0; i < count; i++) line += ` ${random() < 0.15 ? pick(noise)() : pick(words)}`;
    if (random() < 0.125) line += ` ${pick(sensitive)()}`;
    line += '\n';
    parts.push(line);
    size += line.length;
  }
  return parts.join('');
}
