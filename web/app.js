// The risk-officer dashboard: plain ES modules the browser loads as they are (no build step), uPlot and
// Leaflet served by riskfuse from node_modules. Every API call carries the key typed at login, kept in
// sessionStorage (gone when the tab closes). Text from the API is set with textContent, never as HTML.
// This file routes a hash to its view (views/*.js); what the views share lives in core/*.js.
import { get, KEY, logout, session } from './core/api.js';
import { main, showError } from './core/dom.js';
import { loginPage } from './views/login.js';

// Each page's module is loaded when the page is first opened (dynamic import), so the login form does not wait
// for the map and chart libraries (Leaflet alone is 425 kB of JavaScript to parse), nor the portfolio for the
// borrower page's (bench:dashboard). The browser keeps a loaded module for the next visit.
const views = {
  alerts: () => import('./views/alerts.js'),
  application: () => import('./views/application.js'),
  applications: () => import('./views/applications.js'),
  borrower: () => import('./views/borrower.js'),
  cases: () => import('./views/cases.js'),
  credit: () => import('./views/credit.js'),
  devices: () => import('./views/devices.js'),
  models: () => import('./views/model-health.js'),
  portfolio: () => import('./views/portfolio.js'),
};

async function route() {
  const [path = '', query = ''] = location.hash.slice(1).split('?');
  const params = new URLSearchParams(query);
  if (path !== '/alerts') {
    session.stream?.abort();
    session.stream = null;
  }
  if (sessionStorage.getItem(KEY) === null || path === '/login') {
    document.getElementById('nav').hidden = true;
    loginPage();
    return;
  }
  // Who is calling and the page's module, fetched side by side.
  const borrower = /^\/borrower\/(.+)$/.exec(path);
  const application = /^\/application\/(.+)$/.exec(path);
  const me = session.me === null ? get('/v1/me') : Promise.resolve(session.me);
  /** @returns {Promise<(arg: any) => Promise<void>>} */
  const pageOf = async () => {
    if (borrower) return (await views.borrower()).borrowerPage;
    if (application) return (await views.application()).applicationPage;
    if (path === '/applications') return (await views.applications()).applicationsPage;
    if (path === '/credit') return (await views.credit()).creditPage;
    if (path === '/alerts') return (await views.alerts()).alertsPage;
    if (path === '/cases') return (await views.cases()).casesPage;
    // device-ops keys read devices only.
    if (path === '/devices' || (await me).role === 'device-ops') return (await views.devices()).devicesPage;
    if (path === '/models') return (await views.models()).modelHealthPage;
    return (await views.portfolio()).portfolioPage;
  };
  const [who, view] = await Promise.all([me, pageOf()]);
  session.me = who;
  document.getElementById('nav').hidden = false;
  document.getElementById('who').textContent = `${session.me.name} (${session.me.role})`;
  // A nav entry shows only when the role may call the route its page reads (api/permissions.ts via /v1/me).
  for (const a of document.querySelectorAll('#nav a[data-needs]'))
    /** @type {HTMLElement} */ (a).hidden = !session.me.may.includes(a.getAttribute('data-needs') ?? '');
  const id = borrower ?? application;
  await view(id ? decodeURIComponent(id[1]) : params);
  main.dataset.ready = path || '/portfolio';
}

function start() {
  document.getElementById('logout')?.addEventListener('click', logout);
  const go = () => {
    delete main.dataset.ready;
    route().catch(showError);
  };
  window.addEventListener('hashchange', go);
  go();
}

start();
