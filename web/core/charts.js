// uPlot charts sized to their card and refitted on resize; the alert-marker plugin.
import uPlot from '../vendor/uplot/uPlot.esm.js';
import { onLeave } from './dom.js';

/** The card's content width (its padding changes with the screen size), at least 280 px. */
function chartWidth(el) {
  const style = getComputedStyle(el);
  const padding = parseFloat(style.paddingLeft) + parseFloat(style.paddingRight);
  return Math.max(280, Math.floor(el.clientWidth - padding));
}

/**
 * A uPlot chart as wide as its card, resized when the card is (window resize, tablet rotation); released
 * when the page is left or by the returned function (a chart replaced by another).
 */
export function plot(card, opts, data, target) {
  const u = new uPlot({ ...opts, width: chartWidth(card) }, data, target);
  const ro = new ResizeObserver(() => {
    const width = chartWidth(card);
    if (width !== u.width) u.setSize({ width, height: u.height });
  });
  ro.observe(card);
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    ro.disconnect();
    u.destroy();
  };
  onLeave(release);
  return release;
}

/** A uPlot plugin drawing each alert's opening time as a red dashed vertical line. */
export function alertMarkers(alerts) {
  const draw = (u) => {
    const { ctx, bbox } = u;
    ctx.save();
    ctx.strokeStyle = '#c62828';
    ctx.lineWidth = 2;
    ctx.setLineDash([6, 4]);
    for (const a of alerts) {
      const x = Math.round(u.valToPos(a.openedAt / 1000, 'x', true));
      if (x < bbox.left || x > bbox.left + bbox.width) continue;
      ctx.beginPath();
      ctx.moveTo(x, bbox.top);
      ctx.lineTo(x, bbox.top + bbox.height);
      ctx.stroke();
    }
    ctx.restore();
  };
  return { hooks: { draw: [draw] } };
}
