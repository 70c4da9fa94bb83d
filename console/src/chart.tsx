import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface Series {
  label: string;
  colour: string;
  dashed?: boolean;
}

/**
 * A time-series chart (uPlot): `data[0]` is time in seconds, then one array per series (null
 * where a series has no value). The chart is rebuilt when the series change and fed new data
 * otherwise; it has a text label for screen readers, as canvases have none.
 */
export function TimeChart(props: { label: string; series: Series[]; data: (number | null)[][]; height?: number; yLabel?: string; /** Fixed time range (s), so a few points do not stretch the axis over years. */ xRange?: () => [number, number] }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const key = props.series.map((s) => s.label).join('|');
  // Read at each redraw: the range moves with the data, and the chart is not rebuilt for it.
  const xRange = useRef(props.xRange);
  xRange.current = props.xRange;
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const opts: uPlot.Options = {
      width: Math.max(300, el.clientWidth),
      height: props.height ?? 220,
      series: [{}, ...props.series.map((s) => ({ label: s.label, stroke: s.colour, width: 2, dash: s.dashed ? [6, 4] : undefined, spanGaps: false }))],
      axes: [{}, { label: props.yLabel, size: 60 }],
      // Times in the operations centre's zone, like every other time on the console.
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Asia/Shanghai'),
      scales: { x: { time: true, range: (_u, min, max) => xRange.current?.() ?? [min, max] }, y: { range: (_u, min, max) => [Math.min(0, min), max > 0 ? max * 1.1 : 1] } },
      legend: { show: true },
    };
    plot.current = new uPlot(opts, props.data as uPlot.AlignedData, el);
    const resize = new ResizeObserver(() => plot.current?.setSize({ width: Math.max(300, el.clientWidth), height: props.height ?? 220 }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
    // Rebuilt only when the set of series changes; new data goes through setData below.
  }, [key]);
  useEffect(() => {
    plot.current?.setData(props.data as uPlot.AlignedData);
  }, [props.data]);
  return <div class="chart" ref={box} role="img" aria-label={props.label} />;
}
