// The benchmark chart: a Vega grouped bar chart of the ratios to the baseline, rendered to SVG by
// Vega (headless) and to PNG by resvg.
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';

export interface ChartBar {
  readonly setup: string;
  readonly metric: string;
  readonly value: number;
}

export interface ChartInput {
  readonly title: string;
  readonly subtitle: string;
  readonly setups: readonly string[];
  readonly metrics: readonly string[];
  readonly bars: readonly ChartBar[];
  readonly baselineLabel: string;
}

/** The Vega spec (pure): one group of bars per metric, one bar per set-up, a rule at 1×. */
export function chartSpec(c: ChartInput): vega.Spec {
  const values = c.bars.filter((b) => Number.isFinite(b.value));
  return {
    $schema: 'https://vega.github.io/schema/vega/v6.json',
    width: Math.max(480, 130 * c.metrics.length),
    height: 320,
    padding: 16,
    autosize: { type: 'pad' },
    background: 'white',
    title: { text: c.title, subtitle: c.subtitle, fontSize: 15, subtitleFontSize: 11, font: 'DejaVu Sans', subtitleFont: 'DejaVu Sans' },
    config: { text: { font: 'DejaVu Sans' }, axis: { labelFont: 'DejaVu Sans', titleFont: 'DejaVu Sans' }, legend: { labelFont: 'DejaVu Sans', titleFont: 'DejaVu Sans' } },
    data: [{ name: 'table', values: values.map((b) => ({ ...b })) }],
    scales: [
      { name: 'x', type: 'band', domain: [...c.metrics], range: 'width', padding: 0.2 },
      { name: 'y', type: 'linear', domain: { data: 'table', field: 'value' }, domainMin: 0, range: 'height', nice: true, zero: true },
      { name: 'color', type: 'ordinal', domain: [...c.setups], range: 'category' },
    ],
    axes: [
      { orient: 'bottom', scale: 'x', labelFontSize: 11 },
      { orient: 'left', scale: 'y', grid: true, title: `ratio to ${c.baselineLabel} (lower is better, except max req/s)`, titleFontSize: 11 },
    ],
    legends: [{ fill: 'color', orient: 'bottom', direction: 'horizontal', labelFontSize: 12, labelLimit: 400, columnPadding: 24 }],
    marks: [
      {
        type: 'group',
        from: { facet: { data: 'table', name: 'facet', groupby: 'metric' } },
        encode: { enter: { x: { scale: 'x', field: 'metric' } } },
        signals: [{ name: 'width', update: "bandwidth('x')" }],
        scales: [{ name: 'pos', type: 'band', range: 'width', domain: [...c.setups], padding: 0.05 }],
        marks: [
          {
            name: 'bars',
            type: 'rect',
            from: { data: 'facet' },
            encode: { enter: { x: { scale: 'pos', field: 'setup' }, width: { scale: 'pos', band: 1 }, y: { scale: 'y', field: 'value' }, y2: { scale: 'y', value: 0 }, fill: { scale: 'color', field: 'setup' } } },
          },
          {
            type: 'text',
            from: { data: 'bars' },
            encode: {
              enter: {
                x: { field: 'x', offset: { field: 'width', mult: 0.5 } },
                y: { field: 'y', offset: -3 },
                align: { value: 'center' },
                baseline: { value: 'bottom' },
                fontSize: { value: 9 },
                text: { signal: "format(datum.datum.value, '.2f')" },
              },
            },
          },
        ],
      },
      {
        type: 'rule',
        encode: { enter: { x: { value: 0 }, x2: { signal: 'width' }, y: { scale: 'y', value: 1 }, stroke: { value: '#333' }, strokeDash: { value: [4, 3] } } },
      },
    ],
  };
}

export async function chartSvg(c: ChartInput): Promise<string> {
  const view = new vega.View(vega.parse(chartSpec(c)), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

export async function chartPng(c: ChartInput): Promise<Buffer> {
  const svg = await chartSvg(c);
  const png = new Resvg(svg, { fitTo: { mode: 'zoom', value: 2 }, font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' }, background: 'white' }).render().asPng();
  return Buffer.from(png);
}
