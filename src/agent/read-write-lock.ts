/**
 * An async read-write lock, first come first served: a waiting exclusive holder stops later shared ones from
 * jumping ahead, so a steady stream of logins cannot starve a password rotation. Hand-written: the package list
 * holds no maintained async read-write lock, and this is the whole of it.
 */
export class ReadWriteLock {
  private readers = 0;
  private writer = false;
  private readonly waiting: { readonly exclusive: boolean; readonly grant: () => void }[] = [];

  async shared<T>(work: () => Promise<T>): Promise<T> {
    await this.acquire(false);
    try {
      return await work();
    } finally {
      this.readers--;
      this.grantWaiting();
    }
  }

  async exclusive<T>(work: () => Promise<T>): Promise<T> {
    await this.acquire(true);
    try {
      return await work();
    } finally {
      this.writer = false;
      this.grantWaiting();
    }
  }

  private acquire(exclusive: boolean): Promise<void> {
    return new Promise((grant) => {
      this.waiting.push({ exclusive, grant });
      this.grantWaiting();
    });
  }

  private grantWaiting(): void {
    while (this.waiting.length > 0 && !this.writer) {
      const next = this.waiting[0] as (typeof this.waiting)[number];
      if (next.exclusive) {
        if (this.readers > 0) return;
        this.writer = true;
      } else this.readers++;
      this.waiting.shift();
      next.grant();
    }
  }
}
