// The risk-officer dashboard: plain ES modules the browser loads as they are (no build step), uPlot and
// Leaflet served by riskfuse from node_modules. Every API call carries the key typed at login, kept in
// sessionStorage (gone when the tab closes). Text from the API is set with textContent, never as HTML.
// This file routes a hash to its view (views/*.js); what the views share lives in core/*.js.
import { get, KEY, logout, session } from './core/api.js';
import { main, showError } from './core/dom.js';
import { alertsPage } from './views/alerts.js';
import { applicationPage } from './views/application.js';
import { applicationsPage } from './views/applications.js';
import { borrowerPage } from './views/borrower.js';
import { casesPage } from './views/cases.js';
import { creditPage } from './views/credit.js';
import { devicesPage } from './views/devices.js';
import { loginPage } from './views/login.js';
import { modelHealthPage } from './views/model-health.js';
import { portfolioPage } from './views/portfolio.js';

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
  if (session.me === null) session.me = await get('/v1/me');
  document.getElementById('nav').hidden = false;
  document.getElementById('who').textContent = `${session.me.name} (${session.me.role})`;
  // A nav entry shows only when the role may call the route its page reads (api/permissions.ts via /v1/me).
  for (const a of document.querySelectorAll('#nav a[data-needs]'))
    /** @type {HTMLElement} */ (a).hidden = !session.me.may.includes(a.getAttribute('data-needs') ?? '');
  const borrower = /^\/borrower\/(.+)$/.exec(path);
  const application = /^\/application\/(.+)$/.exec(path);
  if (borrower) await borrowerPage(decodeURIComponent(borrower[1]));
  else if (application) await applicationPage(decodeURIComponent(application[1]));
  else if (path === '/applications') await applicationsPage(params);
  else if (path === '/credit') await creditPage(params);
  else if (path === '/alerts') await alertsPage(params);
  else if (path === '/cases') await casesPage(params);
  // device-ops keys read devices only.
  else if (path === '/devices' || session.me.role === 'device-ops') await devicesPage(params);
  else if (path === '/models') await modelHealthPage(params);
  else await portfolioPage(params);
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
