// The login form: the API key is checked against GET /v1/me before it is kept.
import { get, KEY, session } from '../core/api.js';
import { h, page } from '../core/dom.js';

export function loginPage() {
  const input = h('input', {
    id: 'api-key',
    type: 'password',
    placeholder: 'rfk_…',
    size: 50,
    autocomplete: 'off',
  });
  const msg = h('p', { class: 'error', role: 'alert' });
  const form = h(
    'form',
    { class: 'card', id: 'login' },
    h('label', { for: 'api-key' }, 'API key '),
    input,
    ' ',
    h('button', { type: 'submit' }, 'Log in'),
    msg,
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    sessionStorage.setItem(KEY, input.value.trim());
    get('/v1/me').then(
      (who) => {
        session.me = who;
        location.hash = '#/portfolio';
      },
      (err) => {
        msg.textContent = `Login failed: ${err.message}`;
      },
    );
  });
  page('Log in', form);
  input.focus();
}
