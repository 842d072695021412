// The sign-in / register form of /chat, /dashboard and /graphiql (static/session.js
// re-exports it).

import { $, el, clearFieldErrors, setFieldError } from '/static/dom.js';
import { errorText, okOrThrow, send, ApiError } from '/static/http.js';

/** Creates an account (POST /api/v1/users); throws ApiError when it is refused. */
export async function registerUser(email, name, password) {
  const resp = await send('/api/v1/users', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, name, password }),
  });
  if (resp.status === 409) throw new ApiError(409, { detail: 'That email is already registered: sign in instead.' });
  await okOrThrow(resp);
}

const EMAIL_RE = /^[^\s@]+@[^\s@]+$/;
const PASSWORD_MIN = 8; // characters, as the server counts them

/** An input in its labelled field, with the place for its error message. */
function field(id, label, attrs) {
  const wrap = el('label', 'field');
  const input = el('input', 'input');
  input.id = id;
  input.name = id;
  input.dataset.testid = id;
  for (const [k, v] of Object.entries(attrs)) input.setAttribute(k, v);
  const error = el('span', 'field-error');
  error.dataset.for = id;
  error.hidden = true;
  wrap.append(el('span', 'field-label', label), input, error);
  return wrap;
}

function submitButton(id, label, testid) {
  const b = el('button', 'btn btn-primary btn-block', label);
  b.id = id;
  b.type = 'submit';
  b.dataset.testid = testid;
  return b;
}

/**
 * The sign-in (and register) form of /chat, /dashboard and /graphiql, one component: each
 * page has an empty `<form id="auth-form">`, which this fills in (the same ids everywhere:
 * #email, #password, #auth-error, a `.field-error` per field). With `data-register` it also
 * offers an account: the #tab-signin / #tab-register tabs before it, #name and
 * #password-hint. Its button is #signin (and #register), or with `data-submit="single"` one
 * #auth-submit for both; #auth-title may carry `data-signin` / `data-register` titles. The
 * input is checked as the server checks it before anything is sent, and the server's
 * answer (problem+json: its detail and field errors) is shown next to the fields it names.
 */
export class AuthForm {
  /**
   * @param {Session} session
   * @param {{onSignedIn: () => unknown}} handlers  runs once the tokens are stored
   */
  constructor(session, { onSignedIn }) {
    this.session = session;
    this.onSignedIn = onSignedIn;
    this.mode = 'signin';
    const form = $('auth-form');
    this.render(form, 'register' in form.dataset, form.dataset.submit === 'single');
    form.addEventListener('submit', (e) => this.submit(e));
    $('tab-signin')?.addEventListener('click', () => this.setMode('signin'));
    $('tab-register')?.addEventListener('click', () => this.setMode('register'));
    for (const input of form.querySelectorAll('.input')) {
      input.addEventListener('input', () => this.fieldError(input.id, ''));
    }
  }

  render(form, register, single) {
    const parts = [];
    if (register) {
      const tabs = el('div', 'tabs');
      tabs.setAttribute('role', 'tablist');
      tabs.setAttribute('aria-label', 'Account');
      for (const [mode, label] of [
        ['signin', 'Sign in'],
        ['register', 'Register'],
      ]) {
        const tab = el('button', 'tab', label);
        tab.id = `tab-${mode}`;
        tab.type = 'button';
        tab.setAttribute('role', 'tab');
        tab.setAttribute('aria-selected', String(mode === 'signin'));
        tab.dataset.testid = tab.id;
        tabs.append(tab);
      }
      form.before(tabs);
      const name = field('name', 'Name', { autocomplete: 'name', maxlength: '100' });
      name.id = 'name-field';
      name.hidden = true;
      parts.push(name);
    }
    parts.push(field('email', 'Email', { type: 'email', autocomplete: 'email', required: '' }));
    const password = field('password', 'Password', { type: 'password', autocomplete: 'current-password', required: '' });
    if (register) {
      const hint = el('span', 'field-hint', `At least ${PASSWORD_MIN} characters.`);
      hint.id = 'password-hint';
      hint.hidden = true;
      password.lastChild.before(hint);
    }
    parts.push(password);
    const error = el('div', 'form-error');
    error.id = 'auth-error';
    error.setAttribute('role', 'alert');
    error.dataset.testid = 'auth-error';
    error.hidden = true;
    parts.push(error);
    if (single) {
      parts.push(submitButton('auth-submit', 'Sign in', 'signin'));
    } else {
      parts.push(submitButton('signin', 'Sign in', 'signin'));
      if (register) {
        const b = submitButton('register', 'Create account', 'register');
        b.hidden = true;
        parts.push(b);
      }
    }
    form.replaceChildren(...parts);
  }

  get registering() {
    return this.mode === 'register';
  }

  /** The submit button of `mode`. */
  button(mode = this.mode) {
    return $(mode) || $('auth-submit');
  }

  setMode(mode) {
    this.mode = mode;
    const register = this.registering;
    $('tab-signin')?.setAttribute('aria-selected', String(!register));
    $('tab-register')?.setAttribute('aria-selected', String(register));
    if ($('name-field')) $('name-field').hidden = !register;
    if ($('password-hint')) $('password-hint').hidden = !register;
    $('password').autocomplete = register ? 'new-password' : 'current-password';
    const shared = $('auth-submit');
    if (shared) {
      shared.textContent = register ? 'Create account' : 'Sign in';
      shared.dataset.testid = mode;
    } else if ($('register')) {
      $('signin').hidden = register;
      $('register').hidden = !register;
    }
    const title = $('auth-title');
    if (title && title.dataset[mode]) title.textContent = title.dataset[mode];
    this.clear();
  }

  /** The message under one field (the password's replaces its hint); false without that field. */
  fieldError(field, message) {
    if (field === 'password' && $('password-hint')) $('password-hint').hidden = Boolean(message) || !this.registering;
    return setFieldError($('auth-form'), field, message);
  }

  clear() {
    $('auth-error').hidden = true;
    $('auth-error').textContent = '';
    clearFieldErrors($('auth-form'));
    if ($('password-hint')) $('password-hint').hidden = !this.registering;
  }

  /** `message` above the button, and each field error under its field (or, without one, after the message). */
  show(message, fieldErrors = []) {
    const elsewhere = fieldErrors.filter(({ field, message: text }) => !this.fieldError(field, text)).map((e) => e.message);
    const text = [fieldErrors.length > elsewhere.length && !elsewhere.length ? '' : message, ...elsewhere].filter(Boolean).join(' ');
    $('auth-error').textContent = text;
    $('auth-error').hidden = !text;
  }

  /** What the server would refuse, found before asking it. */
  check() {
    const errors = [];
    const register = this.registering;
    const password = $('password').value;
    if (register && !$('name').value.trim()) errors.push({ field: 'name', message: 'Enter your name (others see it).' });
    if (!EMAIL_RE.test($('email').value.trim())) errors.push({ field: 'email', message: 'Enter an email address like name@example.com.' });
    if (register ? [...password].length < PASSWORD_MIN : password.length === 0) {
      errors.push({ field: 'password', message: register ? `Too short: use at least ${PASSWORD_MIN} characters.` : 'Enter your password.' });
    }
    return errors;
  }

  async submit(event) {
    event.preventDefault();
    this.clear();
    const invalid = this.check();
    if (invalid.length) {
      this.show('', invalid);
      $(invalid[0].field).focus();
      return;
    }
    const register = this.registering;
    const email = $('email').value.trim();
    const password = $('password').value;
    const button = this.button();
    const label = button.textContent;
    button.disabled = true;
    button.textContent = register ? 'Creating account…' : 'Signing in…';
    try {
      if (register) await registerUser(email, $('name').value.trim(), password);
      await this.session.signIn(email, password);
      $('password').value = '';
      await this.onSignedIn();
    } catch (e) {
      if (e instanceof ApiError) this.show(e.message, e.fieldErrors);
      else this.show(errorText(e));
    } finally {
      button.disabled = false;
      button.textContent = label;
    }
  }

  /** The form afresh, saying `message` (why the session ended, say), the cursor in its first field. */
  reset(message) {
    this.setMode(this.mode);
    if (message) this.show(message);
    this.focus();
  }

  focus() {
    $(this.registering ? 'name' : 'email').focus();
  }
}
