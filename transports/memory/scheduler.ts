/**
 * The simulator's virtual time: one clock and one queue of events ordered by (time, insertion
 * order). Nothing here reads the real clock, so one seed gives one run.
 */

export interface ScheduledEvent {
  cancel(): void;
}

/** An event is its own handle: one object per message or timer, no closure to cancel it. */
class Event implements ScheduledEvent {
  #run: (() => void) | undefined;

  constructor(
    readonly time: number,
    readonly seq: number,
    run: () => void,
  ) {
    this.#run = run;
  }

  get cancelled(): boolean {
    return this.#run === undefined;
  }

  /** Run it, unless cancelled. */
  fire(): void {
    this.#run?.();
  }

  /**
   * Lets go of the callback at once: a cancelled timer stays queued until it is due, and what its
   * closure holds (a frame to resend, a session) should not stay alive with it.
   */
  cancel(): void {
    this.#run = undefined;
  }
}

/** A binary min-heap of events. */
export class Scheduler {
  #now: number;
  #seq = 0;
  readonly #heap: Event[] = [];

  constructor(start: number) {
    this.#now = start;
  }

  get now(): number {
    return this.#now;
  }

  /** Time of the earliest event, or undefined. */
  peekTime(): number | undefined {
    this.#skipCancelled();
    return this.#heap[0]?.time;
  }

  at(time: number, run: () => void): ScheduledEvent {
    const event = new Event(Math.max(time, this.#now), this.#seq++, run);
    this.#push(event);
    return event;
  }

  /** Run every event due at the earliest pending time; returns false when there is none. */
  runNext(limit = Number.POSITIVE_INFINITY): boolean {
    const time = this.peekTime();
    if (time === undefined || time > limit) return false;
    this.#now = time;
    while (this.#heap.length > 0 && this.#heap[0]!.time === time) {
      this.#pop()!.fire();
    }
    return true;
  }

  /** Move the clock forward without running anything (nothing may be due before `time`). */
  advanceTo(time: number): void {
    if (time > this.#now) this.#now = time;
  }

  #skipCancelled(): void {
    while (this.#heap.length > 0 && this.#heap[0]!.cancelled) this.#pop();
  }

  #less(a: Event, b: Event): boolean {
    return a.time < b.time || (a.time === b.time && a.seq < b.seq);
  }

  #push(event: Event): void {
    const heap = this.#heap;
    heap.push(event);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#less(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  #pop(): Event | undefined {
    const heap = this.#heap;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length > 0 && last !== undefined) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && this.#less(heap[l]!, heap[m]!)) m = l;
        if (r < heap.length && this.#less(heap[r]!, heap[m]!)) m = r;
        if (m === i) break;
        [heap[i], heap[m]] = [heap[m]!, heap[i]!];
        i = m;
      }
    }
    return top;
  }
}
