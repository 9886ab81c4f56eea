// Building the page: h() for elements, page() to replace the view (releasing what the last one held).
import { fmtTime, shortTime } from './format.js';
export const main = /** @type {HTMLElement} */ (document.getElementById('main'));

/** What the page on screen holds beyond its DOM (charts, observers, maps, timers): released by the next page. */
const leaving = [];

export const onLeave = (fn) => leaving.push(fn);

/** Builds an element: h('td', { class: 'x' }, 'text', child). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function page(title, ...content) {
  for (const release of leaving.splice(0)) release();
  main.replaceChildren(h('h1', {}, title), ...content);
  document.title = `${title} · riskfuse`;
}

export function showError(err) {
  main.append(h('p', { class: 'error', role: 'alert' }, err instanceof Error ? err.message : String(err)));
}

/** "← Previous" (the hash carried from the page before) and "Next →" links for cursor paging. */
export function pagerLinks(back, next) {
  return h(
    'div',
    { class: 'pager' },
    back ? h('a', { href: back, id: 'prev-page' }, '← Previous') : null,
    next ? h('a', { href: next, id: 'next-page' }, 'Next →') : null,
  );
}

/** For table cells: date and minute, the full time in the tooltip. */
export const timeCell = (ms) =>
  ms === undefined ? h('td', {}, '—') : h('td', { class: 'time', title: fmtTime(ms) }, shortTime.format(ms));

export const gradeEl = (g) => h('span', { class: `grade grade-${g}` }, g);
