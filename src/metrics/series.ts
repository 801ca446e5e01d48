// Counters and histograms whose hot path is plain arithmetic on an object
// the caller keeps. prom-client's own Counter and Histogram hash their label
// object on every increment (about a microsecond each, measured here); these
// are read by prom-client only when it is scraped, through the `get()`
// shape its Registry takes for any metric, so the text format, cluster
// aggregation and the default metrics all stay prom-client's.

type Labels = Record<string, string>;

interface Value {
  labels: Labels;
  value: number;
  metricName?: string;
}

export interface CounterSeries {
  labels: Labels;
  value: number;
}

export class CounterFamily {
  private readonly series = new Map<string, CounterSeries>();

  constructor(
    readonly name: string,
    private readonly help: string,
  ) {}

  /** The series of these label values, created at 0 on first use; keep it and add to `.value`. */
  at(labels: Labels): CounterSeries {
    const key = JSON.stringify(labels);
    let found = this.series.get(key);
    if (!found) this.series.set(key, (found = { labels, value: 0 }));
    return found;
  }

  get(): { name: string; help: string; type: 'counter'; aggregator: 'sum'; values: Value[] } {
    return { name: this.name, help: this.help, type: 'counter', aggregator: 'sum', values: [...this.series.values()].map(({ labels, value }) => ({ labels, value })) };
  }
}

export interface HistogramSeries {
  labels: Labels;
  /** Observations per bucket (not cumulative); the last slot is above every bound. */
  counts: Float64Array;
  sum: number;
}

export class HistogramFamily {
  private readonly series = new Map<string, HistogramSeries>();

  constructor(
    readonly name: string,
    private readonly help: string,
    readonly bounds: readonly number[],
  ) {}

  at(labels: Labels): HistogramSeries {
    const key = JSON.stringify(labels);
    let found = this.series.get(key);
    if (!found) this.series.set(key, (found = { labels, counts: new Float64Array(this.bounds.length + 1), sum: 0 }));
    return found;
  }

  observe(series: HistogramSeries, value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    series.counts[i]! += 1;
    series.sum += value;
  }

  get(): { name: string; help: string; type: 'histogram'; aggregator: 'sum'; values: Value[] } {
    const values: Value[] = [];
    for (const { labels, counts, sum } of this.series.values()) {
      let cumulative = 0;
      this.bounds.forEach((bound, i) => {
        cumulative += counts[i]!;
        values.push({ labels: { ...labels, le: String(bound) }, value: cumulative, metricName: `${this.name}_bucket` });
      });
      cumulative += counts[this.bounds.length]!;
      values.push({ labels: { ...labels, le: '+Inf' }, value: cumulative, metricName: `${this.name}_bucket` });
      values.push({ labels, value: sum, metricName: `${this.name}_sum` });
      values.push({ labels, value: cumulative, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: 'histogram', aggregator: 'sum', values };
  }
}
