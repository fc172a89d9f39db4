// The admin web UI in a real browser: Debian's chromium driven by
// playwright-core, against a real authd and a real ipfd in a gateway
// namespace (tests/web/admin_env.sh builds and tears down that world).
// Prints TAP; screenshots go to $SEKISHO_TEST_OUT/screenshots/.
import { spawn, execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

const here = dirname(fileURLToPath(import.meta.url));
const top = process.env.SEKISHO_TOP || join(here, '..', '..');
const build = process.env.SEKISHO_BUILD || join(top, 'build');
const out = process.env.SEKISHO_TEST_OUT || tmpdir();
const shots = join(out, 'screenshots');
const { chromium } = createRequire(join(here, 'package.json'))('playwright-core');

const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

let n = 0, failed = 0;
function tap(ok, name, why) {
	n++;
	if (!ok) failed++;
	console.log(`${ok ? 'ok' : 'not ok'} ${n} - ${name}`);
	if (why) for (const line of String(why).split('\n').slice(0, 6)) console.log(`# ${line}`);
}
// A case that has not ended within CASE_MS fails, and the next one runs:
// one request left unanswered fails its case, not the whole run.
const CASE_MS = 120000;
// Browser contexts opened during a case close with it (each holds a renderer
// process); those opened between cases (alice's, bob's, root's) stay.
let caseContexts = null;
async function check(name, fn) {
	let timer;
	const late = new Promise((_, reject) => {
		timer = setTimeout(() => reject(new Error(`not ended within ${CASE_MS / 1000} s`)), CASE_MS);
	});
	caseContexts = [];
	try {
		await Promise.race([fn(), late]);
		tap(true, name);
	} catch (e) {
		tap(false, name, e && e.stack ? e.stack : e);
	} finally {
		clearTimeout(timer);
		for (const ctx of caseContexts)
			await Promise.race([ctx.close().catch(() => {}), new Promise((r) => setTimeout(r, 10000))]);
		caseContexts = null;
	}
}
// Requests made outside the browser wait no longer than the browser's own (10 s).
const within = () => AbortSignal.timeout(10000);

// What authd said last, printed when something failed (its directory is
// removed with the environment unless kept).
let envDir = null;
function authdTail(lines = 20) {
	if (envDir === null)
		return;
	try {
		for (const l of readFileSync(join(envDir, 'authd.log'), 'utf8').trimEnd().split('\n').slice(-lines))
			console.log(`# authd: ${l}`);
	} catch (e) {
		console.log(`# authd.log unreadable: ${e.message}`);
	}
}

// The whole run ends within RUN_MS, whatever hangs: a hang is a failure
// with authd's last words, not a run that never ends.
const RUN_MS = 480000;
setTimeout(() => {
	tap(false, `the run ends within ${RUN_MS / 1000} s`, `stopped while case ${n + 1} ran`);
	authdTail();
	console.log(`1..${n}`);
	process.exit(1);
}, RUN_MS).unref();
function assert(cond, msg) {
	if (!cond) throw new Error(msg || 'assertion failed');
}
function eq(got, want, what) {
	if (got !== want) throw new Error(`${what}: want ${JSON.stringify(want)}, got ${JSON.stringify(got)}`);
}

function freePort() {
	return new Promise((resolve, reject) => {
		const s = createServer();
		s.once('error', reject);
		s.listen(0, '127.0.0.1', () => {
			const { port } = s.address();
			s.close(() => resolve(port));
		});
	});
}

// Starts admin_env.sh and resolves with its READY line's fields.
function startEnv(port) {
	const env = spawn('sh', [join(here, 'admin_env.sh')], {
		env: { ...process.env, ADMIN_PORT: String(port), SEKISHO_TOP: top, SEKISHO_BUILD: build },
		stdio: ['pipe', 'pipe', 'inherit'],
	});
	const lines = createInterface({ input: env.stdout });
	return new Promise((resolve, reject) => {
		const timer = setTimeout(() => reject(new Error('environment not ready in 30 s')), 30000);
		lines.on('line', (line) => {
			const m = line.match(/^READY (\S+) (\S+) (\S+)$/);
			if (!m) return console.log(`# env: ${line}`);
			clearTimeout(timer);
			resolve({ proc: env, dir: m[1], conf: m[2], prefix: m[3] });
		});
		env.on('exit', (code) => {
			clearTimeout(timer);
			reject(new Error(`environment exited (${code}) before it was ready`));
		});
	});
}

// Ends the environment: EOF on its stdin, TERM if it lingers.
function stopEnv(env, keep) {
	return new Promise((resolve) => {
		if (env.proc.exitCode !== null) return resolve();
		const timer = setTimeout(() => env.proc.kill('SIGTERM'), 20000);
		env.proc.on('exit', () => { clearTimeout(timer); resolve(); });
		if (keep) env.proc.stdin.write('FAILED\n');
		env.proc.stdin.end();
	});
}

if (process.getuid() !== 0) {
	console.log('1..0 # SKIP needs root (network namespaces for ipfd)');
	process.exit(0);
}
mkdirSync(shots, { recursive: true });

const port = await freePort();
const base = `http://127.0.0.1:${port}`;
let env, browser;
try {
	env = await startEnv(port);
	envDir = env.dir;
	browser = await chromium.launch({
		executablePath: '/usr/bin/chromium',
		args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking',
		       '--disable-component-update', '--disable-sync', '--no-first-run'],
	});
	await run(env, browser);
} catch (e) {
	tap(false, 'the test environment runs', e && e.stack ? e.stack : e);
} finally {
	if (browser)
		await Promise.race([browser.close().catch(() => {}), new Promise((r) => setTimeout(r, 20000))]);
	if (failed > 0) authdTail();
	if (env) await stopEnv(env, failed > 0);
}
console.log(`1..${n}`);
process.exit(failed ? 1 : 0);

async function run(env, browser) {
	const ctl = (...args) => execFileSync(join(build, 'sekishoctl'), ['-f', env.conf, ...args],
	                                      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30000 });
	const ctlJson = (...args) => JSON.parse(ctl(...args, '--json'));
	// One SQL statement on the store, as an operator's sqlite3 would run it.
	const sql = (stmt) => execFileSync('sqlite3', ['-cmd', '.timeout 5000', join(env.dir, 'db.sqlite'), stmt],
	                                   { stdio: ['ignore', 'pipe', 'pipe'], timeout: 30000 });
	const ns = (host, ...cmd) => ['ip', ['netns', 'exec', `${env.prefix}-${host}`, ...cmd]];
	const run0 = ([cmd, args]) => {
		try {
			execFileSync(cmd, args, { stdio: 'ignore', timeout: 10000 });
			return true;
		} catch {
			return false;
		}
	};
	// A TCP connection from client address src to the guarded echo port, and an echo back.
	const fwOpen = (src) => run0(ns('c1', 'python3', '-c', `import socket, sys
s = socket.socket(); s.settimeout(2); s.bind((sys.argv[1], 0))
s.connect(("10.0.9.2", 80)); s.sendall(b"x\\n"); sys.exit(0 if s.recv(8) else 1)`, src));
	const setList = (id) => {
		const [cmd, args] = ns('gw', 'nft', 'list', 'set', 'inet', 'sekisho', `s${id}_v4`);
		return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10000 });
	};
	const setHas = (id, ip) => new RegExp(`[ {]${ip.replace(/\./g, '\\.')}[ ,}]`).test(setList(id));
	// Whether the kernel holds ip for service id; a set that is gone holds nothing.
	const kernelHolds = (id, ip) => {
		try {
			return setHas(id, ip);
		} catch {
			return false;
		}
	};
	const liveOf = (user) => ctlJson('right', 'list').rights.filter((s) => s.user === user);

	const contexts = [];
	async function newPage(viewport = DESKTOP) {
		const ctx = await browser.newContext({ viewport });
		(caseContexts ?? contexts).push(ctx);
		const page = await ctx.newPage();
		page.setDefaultTimeout(10000);
		return page;
	}
	async function submit(page, selector) {
		const [resp] = await Promise.all([page.waitForNavigation(), page.click(selector)]);
		return resp;
	}
	async function login(page, user, password) {
		await page.goto(`${base}/admin/login`);
		await page.fill('#user', user);
		await page.fill('#password', password);
		return submit(page, 'main button[type=submit]');
	}
	async function shot(page, name) {
		await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
	}
	const text = (page, sel) => page.locator(sel).innerText();
	const serviceId = async (page, name) => {
		await page.goto(`${base}/admin/`);
		const href = await page.locator('td[data-label="Name"] a', { hasText: name }).getAttribute('href');
		return Number(href.match(/id=(\d+)/)[1]);
	};
	async function fillService(page, v) {
		for (const [field, value] of Object.entries(v))
			await page.fill(`#${field}`, value);
	}
	// A POST as a page's login would make it, outside the browser (curl-like).
	async function forge(page, path, fields, withCsrf = true) {
		const cookies = await page.context().cookies(base);
		const cookie = cookies.map((c) => `${c.name}=${c.value}`).join('; ');
		const csrf = await page.locator('input[name=csrf]').first().getAttribute('value');
		const body = new URLSearchParams(withCsrf ? { csrf, ...fields } : fields);
		const r = await fetch(base + path, { method: 'POST', headers: { cookie }, body, redirect: 'manual',
		                                     signal: within() });
		return r.status;
	}

	const alice = await newPage();
	let fwlab = 0, bobsvc = 0;

	await check('alice logs in to the admin pages and lands on her services', async () => {
		const r = await login(alice, 'alice', 'good-password');
		eq(r.status(), 200, 'status');
		eq(new URL(alice.url()).pathname, '/admin/', 'page');
		eq(await text(alice, 'h1'), 'Services', 'heading');
		assert((await alice.content()).includes('You administer no service yet'), 'empty list notice');
	});

	await check('alice registers a service and sees it in her list', async () => {
		await alice.goto(`${base}/admin/services/new`);
		await shot(alice, 'service-new');
		eq(await alice.locator('#admin').innerText(), 'alice', 'an admin registers for herself');
		eq(await alice.locator('textarea#guards, [name=guards]').count(), 0, 'an admin is offered guards');
		assert((await text(alice, '#guards')).includes('None'), 'the guards are shown read-only');
		await fillService(alice, { name: 'fwlab', url: 'http://10.0.9.2/', max_usage: '60',
		                           max_interval: '15', cap: '2' });
		const r = await submit(alice, 'main button[type=submit]');
		eq(r.status(), 200, 'status after the redirect');
		assert((await text(alice, '.alert.success')).includes('registered'), 'notice');
		const row = alice.locator('tbody tr', { hasText: 'fwlab' });
		eq(await row.locator('td[data-label="Admin"]').innerText(), 'alice', 'admin column');
		eq(await row.locator('td[data-label="Cap"]').innerText(), '2', 'cap column');
		eq(await row.locator('td[data-label="Max usage time"]').innerText(), '60 min', 'usage');
		eq(await row.locator('td[data-label="Max usage interval"]').innerText(), '15 min', 'interval');
		fwlab = await serviceId(alice, 'fwlab');
		await shot(alice, 'services-admin');
	});

	await check('root sets the guards of alice\'s service with sekishoctl', async () => {
		ctl('service', 'edit', 'fwlab', '--guard', '10.0.9.2:80');
		eq(JSON.stringify(ctlJson('service', 'show', 'fwlab').guards), '["10.0.9.2:80"]', 'guards');
	});

	await check('the new service reaches ipfd at once: its guarded port is closed', async () => {
		assert(setList(fwlab).includes(`s${fwlab}_v4`), 'the set exists in the kernel');
		assert(!fwOpen('10.0.1.2'), 'an unadmitted client got through');
	});

	await check('validation messages sit next to each field and the typed input stays', async () => {
		await alice.goto(`${base}/admin/services/new`);
		const typed = { name: 'bad name!', url: 'ftp://example.org/', max_usage: '0',
		                max_interval: 'soon', cap: '-3' };
		await fillService(alice, typed);
		const r = await submit(alice, 'main button[type=submit]');
		eq(r.status(), 400, 'status');
		for (const [field, value] of Object.entries(typed)) {
			eq(await alice.inputValue(`#${field}`), value, `${field} kept`);
			eq(await alice.getAttribute(`#${field}`, 'aria-invalid'), 'true', `${field} marked`);
			const msg = alice.locator(`#${field} + .field-error`);
			assert(await msg.isVisible(), `no message right after ${field}`);
			eq(await alice.getAttribute(`#${field}`, 'aria-describedby'), `${field}-err`, 'described');
		}
		assert((await text(alice, '#url-err')).includes('http://'), 'the URL message says what to write');
		assert((await text(alice, '#cap-err')).includes('whole number'), 'the cap message');
		await shot(alice, 'service-new-errors');
		await alice.setViewportSize(PHONE);
		await shot(alice, 'service-new-errors-phone');
		await alice.setViewportSize(DESKTOP);
	});

	await check('a taken name is refused next to the name field', async () => {
		await alice.goto(`${base}/admin/services/new`);
		await fillService(alice, { name: 'fwlab', url: 'http://10.0.9.2/', max_usage: '5',
		                           max_interval: '5', cap: '1' });
		const r = await submit(alice, 'main button[type=submit]');
		eq(r.status(), 409, 'status');
		assert((await text(alice, '#name-err')).includes('exists already'), 'message');
		eq(await alice.inputValue('#url'), 'http://10.0.9.2/', 'other fields kept');
	});

	await check('alice edits her service', async () => {
		await alice.goto(`${base}/admin/services/edit?id=${fwlab}`);
		eq(await alice.inputValue('#cap'), '2', 'the form shows the stored cap');
		await fillService(alice, { cap: '3', max_usage: '90' });
		const r = await submit(alice, 'form[action="/admin/services/edit"] button[type=submit]');
		eq(r.status(), 200, 'status');
		assert((await text(alice, '.alert.success')).includes('saved'), 'notice');
		const svc = ctlJson('service', 'show', 'fwlab');
		eq(svc.cap, 3, 'stored cap');
		eq(svc.max_usage_min, 90, 'stored max usage');
		eq(svc.admin, 'alice', 'admin unchanged');
		eq(JSON.stringify(svc.guards), '["10.0.9.2:80"]', 'the guards stay as root set them');
		await shot(alice, 'service-edit');
	});

	await check('alice sees her service\'s guards read-only', async () => {
		await alice.goto(`${base}/admin/services/edit?id=${fwlab}`);
		eq(await alice.locator('textarea#guards, [name=guards]').count(), 0, 'a guards field');
		eq((await text(alice, '#guards')).trim(), '10.0.9.2:80', 'the stored guards');
		assert((await alice.content()).includes('Only root sets or changes'), 'says who may');
	});

	await check('alice sets the health probe and the adaptive cap of her service', async () => {
		await alice.goto(`${base}/admin/services/edit?id=${fwlab}`);
		await Promise.all([alice.waitForNavigation(), alice.click('a:has-text("Health probe and cap")')]);
		eq(new URL(alice.url()).pathname, '/admin/services/load', 'the load page');
		eq(await alice.inputValue('#probe'), '', 'no probe yet');
		eq(await alice.inputValue('#interval_ms'), '1000', 'the default interval');
		eq(await alice.inputValue('#cap_mode'), 'fixed', 'a fixed cap');
		// Bad values: messages next to the fields, the typed input stays, nothing stored.
		await fillService(alice, { probe: 'http://example.org/', interval_ms: 'soon', cap_min: '0' });
		let r = await submit(alice, 'main button[type=submit]');
		eq(r.status(), 400, 'status');
		eq(await alice.inputValue('#interval_ms'), 'soon', 'interval kept');
		eq(await alice.getAttribute('#interval_ms', 'aria-invalid'), 'true', 'interval marked');
		assert((await text(alice, '#interval_ms-err')).includes('whole number'), 'interval message');
		assert(await alice.locator('#cap_min-err').isVisible(), 'cap_min message');
		// The store's own check: adaptive needs a probe; a host name is not an address.
		await fillService(alice, { probe: '', interval_ms: '500', timeout_ms: '400', cap_min: '1',
		                           target_ms: '150' });
		await alice.selectOption('#cap_mode', 'adaptive');
		r = await submit(alice, 'main button[type=submit]');
		eq(r.status(), 400, 'status without a probe');
		assert((await text(alice, '.alert.error')).includes('needs a probe'), 'says why');
		eq(await alice.inputValue('#cap_mode'), 'adaptive', 'the choice stays');
		await fillService(alice, { probe: 'http://example.org/' });
		r = await submit(alice, 'main button[type=submit]');
		eq(r.status(), 400, 'status with a host name');
		eq(ctlJson('service', 'show', 'fwlab').probe, '', 'nothing stored');
		// The gauge: a target that is not a number is marked; a metric without a URL refused.
		await fillService(alice, { probe: 'tcp://10.0.9.2:80', gauge_metric: 'busy{pool="web"}',
		                           gauge_target: 'lots' });
		r = await submit(alice, 'main button[type=submit]');
		eq(r.status(), 400, 'status with a bad gauge target');
		assert(await alice.locator('#gauge_target-err').isVisible(), 'gauge target message');
		eq(await alice.inputValue('#gauge_metric'), 'busy{pool="web"}', 'the metric stays');
		await fillService(alice, { gauge_target: '2.5' });
		r = await submit(alice, 'main button[type=submit]');
		eq(r.status(), 400, 'status with a metric but no URL');
		assert((await text(alice, '.alert.error')).includes('needs a gauge URL'), 'says why');
		// Good values are stored and audited.
		await fillService(alice, { gauge_url: 'http://10.0.9.2:80/metrics' });
		r = await submit(alice, 'main button[type=submit]');
		eq(r.status(), 200, 'status after the redirect');
		assert((await text(alice, '.alert.success')).includes('saved'), 'notice');
		const svc = ctlJson('service', 'show', 'fwlab');
		eq(svc.probe, 'tcp://10.0.9.2:80', 'stored probe');
		eq(svc.cap_mode, 'adaptive', 'stored mode');
		const show = ctl('service', 'show', 'fwlab');
		assert(show.includes('every 500 ms, timeout 400 ms'), 'stored interval and timeout');
		assert(show.includes('target 150 ms'), 'stored target');
		assert(show.includes('gauge:         http://10.0.9.2:80/metrics busy{pool="web"}, target 2.5'),
		       'stored gauge');
		eq(await alice.inputValue('#gauge_target'), '2.5', 'the form shows the stored gauge target');
		assert(ctl('audit', '--service', 'fwlab').includes('service.load'), 'audited');
		await shot(alice, 'service-load');
		// Without the CSRF token: refused, nothing changes.
		eq(await forge(alice, '/admin/services/load', { id: String(fwlab), probe: '',
		   interval_ms: '1000', timeout_ms: '500', down_after: '3', up_after: '2',
		   cap_mode: 'fixed', cap_min: '1', target_ms: '200' }, false), 403, 'forged status');
		eq(ctlJson('service', 'show', 'fwlab').cap_mode, 'adaptive', 'unchanged');
		// Back to a plain fixed cap for the cases below.
		await alice.selectOption('#cap_mode', 'fixed');
		await fillService(alice, { probe: '', gauge_url: '', gauge_metric: '', gauge_target: '' });
		r = await submit(alice, 'main button[type=submit]');
		eq(r.status(), 200, 'status');
		eq(ctlJson('service', 'show', 'fwlab').cap_mode, 'fixed', 'fixed again');
		eq(ctlJson('service', 'show', 'fwlab').probe, '', 'no probe again');
	});

	await check('forged POSTs with guards from alice are refused and change nothing', async () => {
		await alice.goto(`${base}/admin/services/edit?id=${fwlab}`);
		const edit = { id: String(fwlab), name: 'fwlab', url: 'http://10.0.9.2/', max_usage: '90',
		               max_interval: '15', cap: '3' };
		for (const guards of ['10.0.9.2', '10.0.9.2:80\n10.0.1.2', '10.0.9.3:80'])
			eq(await forge(alice, '/admin/services/edit', { ...edit, guards }), 400, `edit to "${guards}"`);
		eq(await forge(alice, '/admin/services/edit', { ...edit, guards: '' }), 303,
		   'an empty guards field is no field: the guards stay');
		eq(await forge(alice, '/admin/services/edit', { ...edit, guards: '10.0.9.2:80' }), 303,
		   'the stored guards sent back unchanged are fine');
		eq(await forge(alice, '/admin/services/new', { name: 'grab', url: 'http://10.0.9.2/',
		                                               max_usage: '5', max_interval: '5', cap: '1',
		                                               guards: '10.0.9.2:443' }), 400, 'new with guards');
		eq(JSON.stringify(ctlJson('service', 'show', 'fwlab').guards), '["10.0.9.2:80"]', 'fwlab guards');
		assert(!ctlJson('service', 'list').services.some((v) => v.name === 'grab'), 'grab was added');
	});

	const bob = await newPage();
	await check('bob, another admin, does not see alice\'s service', async () => {
		await login(bob, 'bob', 'good-password');
		assert(!(await bob.content()).includes('fwlab'), 'fwlab is listed for bob');
		await bob.goto(`${base}/admin/services/new`);
		await fillService(bob, { name: 'bobsvc', url: 'http://10.0.9.2:8080/', max_usage: '30',
		                         max_interval: '10', cap: '5' });
		await submit(bob, 'main button[type=submit]');
		eq(await bob.locator('tbody tr').count(), 1, 'bob sees only his own service');
		bobsvc = await serviceId(bob, 'bobsvc');
		await bob.goto(`${base}/admin/rights`);
		assert(!(await bob.content()).includes('fwlab'), 'fwlab among bob\'s live access choices');
	});

	await check('bob gets 403 opening the pages of alice\'s service', async () => {
		for (const path of [`/admin/services/edit?id=${fwlab}`, `/admin/services/delete?id=${fwlab}`,
		                    `/admin/rights?service=${fwlab}`, `/admin/services/load?id=${fwlab}`]) {
			const r = await bob.goto(base + path);
			eq(r.status(), 403, path);
			assert(!(await bob.content()).includes('10.0.9.2/'), `${path} shows the service`);
		}
		await shot(bob, 'forbidden-other-admin');
	});

	await check('forged POSTs with bob\'s own session and CSRF token are refused with 403', async () => {
		await bob.goto(`${base}/admin/`);
		const edit = { id: String(fwlab), name: 'fwlab', url: 'http://evil.example/', max_usage: '1',
		               max_interval: '1', cap: '999', guards: '', admin: 'bob' };
		eq(await forge(bob, '/admin/services/edit', edit), 403, 'edit');
		eq(await forge(bob, '/admin/services/disable', { id: String(fwlab) }), 403, 'disable');
		eq(await forge(bob, '/admin/services/delete', { id: String(fwlab) }), 403, 'delete');
		eq(await forge(bob, '/admin/services/load', { id: String(fwlab), probe: 'tcp://10.0.9.2:80',
		   interval_ms: '1000', timeout_ms: '500', down_after: '3', up_after: '2',
		   cap_mode: 'adaptive', cap_min: '1', target_ms: '200' }), 403, 'load settings');
		eq(await forge(bob, '/admin/users/role', { id: '1', role: 'user' }), 403, 'root page');
		eq(await forge(bob, '/admin/services/edit', { ...edit, id: String(bobsvc), name: 'bobsvc',
		                                              admin: 'alice' }),
		   303, 'bob may still edit his own service');
	});

	await check('the forged POSTs changed nothing', async () => {
		const svc = ctlJson('service', 'show', 'fwlab');
		eq(svc.url, 'http://10.0.9.2/', 'url');
		eq(svc.cap, 3, 'cap');
		eq(svc.enabled, true, 'enabled');
		eq(svc.admin, 'alice', 'admin');
		eq(svc.cap_mode, 'fixed', 'cap mode');
		eq(ctlJson('service', 'show', 'bobsvc').admin, 'bob', 'an admin cannot give a service away');
	});

	await check('a POST without the login\'s CSRF token is refused', async () => {
		eq(await forge(alice, '/admin/services/disable', { id: String(fwlab) }, false), 403, 'status');
		eq(ctlJson('service', 'show', 'fwlab').enabled, true, 'still enabled');
	});

	await check('a user gets a clear 403 page on every admin page', async () => {
		const carol = await newPage();
		const r = await login(carol, 'carol', 'good-password');
		eq(r.status(), 403, 'after login');
		assert((await carol.content()).includes('user account'), 'the page says why');
		await shot(carol, 'forbidden-user');
		for (const path of ['/admin/', '/admin/services/new', '/admin/rights', '/admin/users',
		                    '/admin/audit', `/admin/services/edit?id=${fwlab}`])
			eq((await carol.goto(base + path)).status(), 403, path);
		await carol.goto(`${base}/me`);
		eq(await carol.locator('header a[href="/admin/"]').count(), 0, 'the portal offers a user the admin pages');
		eq(await forge(carol, '/admin/services/new', { name: 'x', url: 'http://x/', max_usage: '1',
		                                               max_interval: '1', cap: '1' }), 403, 'forged add');
	});

	await check('an admin cannot open root\'s pages', async () => {
		eq((await alice.goto(`${base}/admin/users`)).status(), 403, 'users');
		eq((await alice.goto(`${base}/admin/audit`)).status(), 403, 'audit');
		assert(!(await alice.content()).includes('>Users<'), 'the nav offers Users to an admin');
	});

	const root = await newPage();
	await check('root sees every service with its admin', async () => {
		await login(root, 'root', 'root-password');
		await root.goto(`${base}/me`);
		eq(await root.locator('header a[href="/admin/"]').count(), 1, 'the portal links root to the admin pages');
		await root.goto(`${base}/admin/`);
		eq(await root.locator('tbody tr', { hasText: 'fwlab' }).locator('td[data-label="Admin"]').innerText(),
		   'alice', 'fwlab');
		eq(await root.locator('tbody tr', { hasText: 'bobsvc' }).locator('td[data-label="Admin"]').innerText(),
		   'bob', 'bobsvc');
		await shot(root, 'services-root');
		await root.setViewportSize(PHONE);
		await shot(root, 'services-root-phone');
		await root.setViewportSize(DESKTOP);
	});

	await check('root may choose the admin of a service', async () => {
		await root.goto(`${base}/admin/services/edit?id=${bobsvc}`);
		await root.selectOption('#admin', 'alice');
		await submit(root, 'form[action="/admin/services/edit"] button[type=submit]');
		eq(ctlJson('service', 'show', 'bobsvc').admin, 'alice', 'new admin');
		await alice.goto(`${base}/admin/`);
		eq(await alice.locator('tbody tr').count(), 2, 'alice now sees both');
		await root.goto(`${base}/admin/services/edit?id=${bobsvc}`);
		await root.selectOption('#admin', 'bob');
		await submit(root, 'form[action="/admin/services/edit"] button[type=submit]');
	});

	await check('root edits guards; the store refuses an overlap or a forbidden one with its reason', async () => {
		const guardsOf = () => JSON.stringify(ctlJson('service', 'show', 'bobsvc').guards);
		for (const [guards, why] of [['10.0.9.2', 'which service fwlab guards'],
		                             ['10.0.1.5:80', 'which no service may guard'],
		                             ['10.0.9.1', 'which no service may guard']]) {
			await root.goto(`${base}/admin/services/edit?id=${bobsvc}`);
			await root.fill('#guards', guards);
			const r = await submit(root, 'form[action="/admin/services/edit"] button[type=submit]');
			eq(r.status(), 400, `status for ${guards}`);
			assert((await root.content()).includes(why), `the reason for ${guards}`);
			eq(await root.inputValue('#guards'), guards, 'the typed guards stay');
			eq(guardsOf(), '[]', 'nothing stored');
		}
		await shot(root, 'service-guard-refused');
		await root.goto(`${base}/admin/services/edit?id=${bobsvc}`);
		await root.fill('#guards', '10.0.9.2:8080');
		await submit(root, 'form[action="/admin/services/edit"] button[type=submit]');
		eq(guardsOf(), '["10.0.9.2:8080"]', 'root set the guard');
	});

	const userPage = async (name) => {
		await root.goto(`${base}/admin/users`);
		await Promise.all([root.waitForNavigation(), root.click(`td[data-label="Name"] a:text-is("${name}")`)]);
	};
	const role = (name) => ctlJson('user', 'list').users.find((u) => u.name === name);

	await check('root creates a user', async () => {
		await root.goto(`${base}/admin/users`);
		await root.fill('#name', 'frank');
		await root.selectOption('#role', 'admin');
		await root.fill('#password', 'frank-password');
		await root.fill('#again', 'frank-password');
		await submit(root, 'form[action="/admin/users/new"] button[type=submit]');
		assert((await text(root, '.alert.success')).includes('created'), 'notice');
		eq(role('frank').role, 'admin', 'stored role');
		await shot(root, 'users');
		await root.setViewportSize(PHONE);
		await shot(root, 'users-phone');
		await root.setViewportSize(DESKTOP);
	});

	await check('a refused new user keeps the name and says why next to the fields', async () => {
		await root.goto(`${base}/admin/users`);
		await root.fill('#name', 'no good');
		await root.fill('#password', 'short');
		await root.fill('#again', 'short');
		const r = await submit(root, 'form[action="/admin/users/new"] button[type=submit]');
		eq(r.status(), 400, 'status');
		eq(await root.inputValue('#name'), 'no good', 'name kept');
		eq(await root.inputValue('#password'), '', 'the password is never sent back');
		assert(await root.locator('#name + .field-error').isVisible(), 'name message');
		assert((await text(root, '#password-err')).includes('8'), 'password message');
	});

	await check('root changes a user\'s role', async () => {
		await userPage('dave');
		await root.selectOption('#role', 'admin');
		await submit(root, 'form[action="/admin/users/role"] button[type=submit]');
		assert((await text(root, '.alert.success')).includes('role'), 'notice');
		eq(role('dave').role, 'admin', 'stored');
		await shot(root, 'user');
	});

	await check('the last root cannot be demoted; the store\'s reason is shown', async () => {
		await userPage('root');
		await root.selectOption('#role', 'user');
		const r = await submit(root, 'form[action="/admin/users/role"] button[type=submit]');
		eq(r.status(), 409, 'status');
		assert((await text(root, '#role-err')).includes('last enabled root'), 'message');
		eq(role('root').role, 'root', 'still root');
	});

	await check('an admin who still administers services is not demoted', async () => {
		await userPage('bob');
		await root.selectOption('#role', 'user');
		const r = await submit(root, 'form[action="/admin/users/role"] button[type=submit]');
		eq(r.status(), 409, 'status');
		assert((await text(root, '#role-err')).includes('still administers'), 'message');
		eq(role('bob').role, 'admin', 'still admin');
	});

	await check('root resets a password; the new one works and the old one does not', async () => {
		await userPage('erin');
		await root.fill('#password', 'erin-new-pass');
		await root.fill('#again', 'erin-new-pas');
		let r = await submit(root, 'form[action="/admin/users/password"] button[type=submit]');
		eq(r.status(), 400, 'mismatch refused');
		assert((await text(root, '#password-err')).includes('differ'), 'mismatch message');
		await root.fill('#password', 'erin-new-pass');
		await root.fill('#again', 'erin-new-pass');
		await submit(root, 'form[action="/admin/users/password"] button[type=submit]');
		assert((await text(root, '.alert.success')).includes('password'), 'notice');
		const erin = await newPage();
		eq((await login(erin, 'erin', 'good-password')).status(), 401, 'old password');
		eq((await login(erin, 'erin', 'erin-new-pass')).status(), 403, 'new password logs in (a user: 403)');
	});

	await check('root disables a user: their access ends and the firewall closes', async () => {
		ctl('grant', 'erin', 'fwlab', '10.0.1.3');
		assert(setHas(fwlab, '10.0.1.3') && fwOpen('10.0.1.3'), 'the grant opened the firewall');
		await userPage('erin');
		await submit(root, 'form[action="/admin/users/disable"] button');
		assert((await text(root, '.alert.success')).includes('disabled'), 'notice');
		eq(role('erin').disabled, true, 'stored');
		eq(liveOf('erin').length, 0, 'live rights');
		assert(!setHas(fwlab, '10.0.1.3'), 'still in the set');
		assert(!fwOpen('10.0.1.3'), 'the client still gets through');
		await submit(root, 'form[action="/admin/users/enable"] button');
		eq(role('erin').disabled, false, 'enabled again');
	});

	await check('revoking a live right closes the firewall at once', async () => {
		ctl('grant', 'carol', 'fwlab', '10.0.1.2');
		assert(fwOpen('10.0.1.2'), 'the grant opened the firewall');
		await alice.goto(`${base}/admin/rights?service=${fwlab}`);
		const row = alice.locator('tbody tr', { hasText: 'carol' });
		eq(await row.locator('td[data-label="From"]').innerText(), '10.0.1.2', 'address');
		assert((await row.locator('td[data-label="Ends in"]').innerText()).includes('h'), 'remaining time');
		eq(await alice.locator('meta[http-equiv=refresh]').getAttribute('content'), '30', 'auto-refresh');
		await shot(alice, 'rights');
		await alice.setViewportSize(PHONE);
		await shot(alice, 'rights-phone');
		await alice.setViewportSize(DESKTOP);
		await submit(alice, 'tbody tr:has-text("carol") button:text("Revoke")');
		assert((await text(alice, '.alert.success')).includes('revoked'), 'notice');
		assert(!setHas(fwlab, '10.0.1.2'), 'the address is still in the set');
		assert(!fwOpen('10.0.1.2'), 'the client still gets through');
		eq(liveOf('carol').length, 0, 'live rights');
		assert((await alice.content()).includes('Nobody holds access'), 'the list is empty');
	});

	await check('a revoke has one audit name whether the page or sekishoctl did it', async () => {
		ctl('grant', 'carol', 'fwlab', '10.0.1.2');
		ctl('right', 'revoke', String(liveOf('carol')[0].id));
		const rows = ctlJson('audit', '--service', 'fwlab', '--limit', '50').audit
			.filter((a) => a.target === 'carol' && a.action.endsWith('revoke'));
		const by = (actor) => rows.filter((a) => a.actor === actor).length;
		assert(by('alice') > 0 && by('sekishoctl') > 0, `revokes by both: ${JSON.stringify(rows)}`);
		assert(rows.every((a) => a.action === 'right.revoke'), `one name: ${rows.map((a) => a.action)}`);
		assert(!setHas(fwlab, '10.0.1.2'), 'the CLI revoke left the address in the set');
	});

	await check('disabling a service ends its rights and keeps its door shut', async () => {
		ctl('grant', 'carol', 'fwlab', '10.0.1.2');
		assert(fwOpen('10.0.1.2') && setHas(fwlab, '10.0.1.2'), 'the grant opened the firewall');
		await alice.goto(`${base}/admin/`);
		await submit(alice, 'tbody tr:has-text("fwlab") button:text("Disable")');
		assert((await text(alice, '.alert.success')).includes('disabled'), 'notice');
		eq(ctlJson('service', 'show', 'fwlab').enabled, false, 'stored');
		eq(liveOf('carol').length, 0, 'live rights');
		assert(!kernelHolds(fwlab, '10.0.1.2'), 'the kernel still holds the address');
		assert(!fwOpen('10.0.1.2'), 'a disabled service let its former client through');
		await submit(alice, 'tbody tr:has-text("fwlab") button:text("Enable")');
		eq(ctlJson('service', 'show', 'fwlab').enabled, true, 'enabled again');
		assert(!fwOpen('10.0.1.2'), 'enabling admitted nobody');
	});

	// The portal's login form for user on a page of its own; resolves with the response.
	async function portalLogin(user, service) {
		const page = await newPage();
		await page.goto(`${base}/?service=${service}`);
		await page.fill('#user', user);
		await page.fill('#password', 'good-password');
		return [page, await submit(page, 'main button[type=submit]')];
	}
	const portalServices = (page) => page.locator('#service option').allInnerTexts();

	await check('alice restricts her service to its access list', async () => {
		await alice.goto(`${base}/admin/services/edit?id=${fwlab}`);
		await Promise.all([alice.waitForNavigation(), alice.click('a:text("Access list")')]);
		eq(await text(alice, 'h1'), 'Access to fwlab', 'heading');
		assert((await text(alice, 'main')).includes('Every enabled user may log in'), 'open at first');
		await submit(alice, 'button:text("Restrict to the list")');
		assert((await text(alice, '.alert.success')).includes('only to its access list'), 'notice');
		eq(ctlJson('service', 'access', 'fwlab').restricted, true, 'stored');
		await shot(alice, 'access-restricted-empty');
	});

	let dave;
	await check('a user not on the list gets a clear 403 at the portal and nothing is admitted', async () => {
		const [page, r] = await portalLogin('dave', 'fwlab');
		dave = page;
		eq(r.status(), 403, 'status');
		assert((await text(dave, 'main')).includes('not on it'), 'the page says why');
		await shot(dave, 'portal-forbidden');
		eq(liveOf('dave').length, 0, 'live rights');
		eq(ctlJson('service', 'show', 'fwlab').active, 0, 'the cap was not touched');
		const deny = ctlJson('audit', '--service', 'fwlab', '--limit', '5').audit
			.find((a) => a.action === 'deny' && a.target === 'dave');
		assert(deny && deny.detail.includes('reason=forbidden'), `audit: ${JSON.stringify(deny)}`);
		await dave.goto(`${base}/`);
		assert(!(await portalServices(dave)).some((o) => o.startsWith('fwlab')),
		       'the portal still offers fwlab to dave');
	});

	await check('root makes a group with carol in it', async () => {
		await root.goto(`${base}/admin/groups`);
		await root.fill('#name', 'physics');
		await submit(root, 'form[action="/admin/groups/new"] button[type=submit]');
		assert((await text(root, '.alert.success')).includes('created'), 'notice');
		await Promise.all([root.waitForNavigation(), root.click('td[data-label="Name"] a:text-is("physics")')]);
		await root.fill('#user', 'carol');
		await submit(root, 'form[action="/admin/groups/join"] button[type=submit]');
		eq(await text(root, 'td[data-label="Member"]'), 'carol', 'member listed');
		await shot(root, 'group');
		eq((await alice.goto(`${base}/admin/groups`)).status(), 403, 'an admin may not manage groups');
	});

	await check('alice puts the group on the list; an unknown name is refused with a message', async () => {
		await alice.goto(`${base}/admin/services/access?id=${fwlab}`);
		await alice.selectOption('#kind', 'group');
		await alice.fill('#name', 'nosuchgroup');
		const bad = await submit(alice, 'form[action="/admin/services/access/add"] button[type=submit]');
		eq(bad.status(), 400, 'unknown group');
		assert((await text(alice, '.alert.error')).includes('no group named nosuchgroup'), 'message');
		await alice.selectOption('#kind', 'group');
		await alice.fill('#name', 'physics');
		await submit(alice, 'form[action="/admin/services/access/add"] button[type=submit]');
		assert((await text(alice, '.alert.success')).includes('Added'), 'notice');
		eq(await text(alice, 'td[data-label="Name"]'), 'physics', 'listed');
		await shot(alice, 'access-list');
		const acts = ctlJson('audit', '--service', 'fwlab', '--limit', '10').audit.map((a) => a.action);
		assert(acts.includes('acl.add') && acts.includes('acl.restrict'), `audit: ${acts}`);
	});

	await check('the group lets carol in: the portal lists fwlab for her and admits her', async () => {
		const page = await newPage();
		// The entry URL the portal sends her to is the service's own (not served here).
		await page.route('http://10.0.9.2/**', (route) => route.fulfill({ status: 200, body: 'entered' }));
		await page.goto(`${base}/?service=fwlab`);
		await page.fill('#user', 'carol');
		await page.fill('#password', 'good-password');
		const [resp] = await Promise.all([
			page.waitForResponse((r) => r.url() === `${base}/login`),
			page.click('main button[type=submit]')]);
		eq(resp.status(), 303, `the portal's answer (${await resp.text().catch(() => '')})`);
		assert(resp.headers().location.startsWith('http://10.0.9.2/_sekisho/enter?code='),
		       `sent to ${resp.headers().location}`);
		eq(liveOf('carol').length, 1, 'carol holds a right');
		const list = await page.context().newPage();   // the same login, a page of its own
		await list.goto(`${base}/`);
		assert((await portalServices(list)).some((o) => o.startsWith('fwlab')), 'fwlab offered to carol');
		ctl('right', 'revoke', String(liveOf('carol')[0].id));
		const [, r] = await portalLogin('dave', 'fwlab');
		eq(r.status(), 403, 'dave is still refused');
	});

	await check('removing the group from the list shuts carol out again', async () => {
		await alice.goto(`${base}/admin/services/access?id=${fwlab}`);
		await submit(alice, 'button[aria-label="Remove group physics"]');
		assert((await text(alice, '.alert.success')).includes('Removed'), 'notice');
		const [page, r] = await portalLogin('carol', 'fwlab');
		eq(r.status(), 403, 'status');
		await submit(alice, 'button:text("Open to every user")');
		eq(ctlJson('service', 'access', 'fwlab').restricted, false, 'open again');
		await page.goto(`${base}/`);
		assert((await portalServices(page)).some((o) => o.startsWith('fwlab')), 'fwlab offered again');
	});

	await check('alice sets the waiting room of her service in its form; bad numbers are refused there', async () => {
		await alice.goto(`${base}/admin/services/edit?id=${fwlab}`);
		eq(await alice.inputValue('#queue'), 'default', 'a service starts with the portal default');
		eq(await alice.inputValue('#rate'), '', 'and no rate');
		await alice.selectOption('#queue', 'on');
		await fillService(alice, { queue_max: '0x5', rate: '100001' });
		const bad = await submit(alice, 'form[action="/admin/services/edit"] button[type=submit]');
		eq(bad.status(), 400, 'status');
		for (const field of ['queue_max', 'rate']) {
			eq(await alice.getAttribute(`#${field}`, 'aria-invalid'), 'true', `${field} marked`);
			assert(await alice.locator(`#${field} + .field-error`).isVisible(), `${field} message`);
		}
		eq(await alice.inputValue('#rate'), '100001', 'the typed rate stays');
		eq(ctlJson('service', 'show', 'fwlab').queue, 'default', 'nothing stored');
		await fillService(alice, { queue_max: '5', queue_lapse: '', rate: '' });
		await submit(alice, 'form[action="/admin/services/edit"] button[type=submit]');
		assert((await text(alice, '.alert.success')).includes('saved'), 'notice');
		const svc = ctlJson('service', 'show', 'fwlab');
		eq(svc.queue, 'on', 'stored mode');
		eq(svc.queue_max, 5, 'stored places');
		eq(svc.queue_lapse_s, 0, 'an empty lapse is the default');
		eq(await alice.inputValue('#queue'), 'on', 'the form shows the stored mode');
		const q = ctlJson('audit', '--service', 'fwlab', '--limit', '5').audit.find((a) => a.action === 'service.queue');
		assert(q && q.actor === 'alice' && q.detail.includes('queue=on queue_max=5'), `audit: ${JSON.stringify(q)}`);
	});

	let carolq, daveq, daveId, carolCookie;
	await check('the waiting lines page shows each line, and one line its places in order', async () => {
		ctl('service', 'edit', 'fwlab', '--cap', '1');
		ctl('grant', 'erin', 'fwlab', '10.0.1.3');
		let r;
		[carolq, r] = await portalLogin('carol', 'fwlab');
		eq(r.status(), 200, 'carol is given a place');
		eq(r.headers()['x-sekisho-queue-position'], '1', 'carol is first');
		[daveq, r] = await portalLogin('dave', 'fwlab');
		eq(r.headers()['x-sekisho-queue-position'], '2', 'dave is second');
		await Promise.all([alice.waitForNavigation(), alice.click('header a:text("Waiting lines")')]);
		eq(await text(alice, 'h1'), 'Waiting lines', 'heading');
		const row = alice.locator('#lines tbody tr', { hasText: 'fwlab' });
		eq(await row.locator('td[data-label="Waiting"]').innerText(), '2', 'length');
		eq(await row.locator('td[data-label="Live"]').innerText(), '1/1', 'live');
		assert((await row.locator('td[data-label="Waiting room"]').innerText()).includes('up to 5'), 'settings');
		assert((await row.locator('td[data-label="Longest wait"]').innerText()) !== '-', 'oldest wait');
		await shot(alice, 'queues');
		await Promise.all([alice.waitForNavigation(), row.locator('a:text("fwlab")').click()]);
		eq(await text(alice, 'h1'), 'Waiting line: fwlab', 'line heading');
		const users = await alice.locator('#places td[data-label="User"]').allInnerTexts();
		eq(JSON.stringify(users), '["carol","dave"]', 'places in order');
		const pos = await alice.locator('#places td[data-label="Position"]').allInnerTexts();
		eq(JSON.stringify(pos), '["1","2"]', 'positions');
		assert((await text(alice, '#places tbody tr:first-child td[data-label="Last poll"]')).includes('ago'), 'last poll');
		daveId = await alice.locator('#places tbody tr', { hasText: 'dave' }).locator('input[name=user]').getAttribute('value');
		// Their waiting pages refresh themselves: closed, so the test alone polls from here.
		carolCookie = (await carolq.context().cookies(base)).map((c) => `${c.name}=${c.value}`).join('; ');
		await carolq.close();
		await daveq.close();
		await shot(alice, 'queue-line');
		await alice.setViewportSize(PHONE);
		await shot(alice, 'queue-line-phone');
		await alice.setViewportSize(DESKTOP);
	});

	await check('another admin neither sees nor changes alice\'s line', async () => {
		eq((await bob.goto(`${base}/admin/queues/line?id=${fwlab}`)).status(), 403, 'the line page');
		await bob.goto(`${base}/admin/queues`);
		assert(!(await bob.content()).includes('fwlab'), 'fwlab on bob\'s overview');
		eq(await forge(bob, '/admin/queues/remove', { id: String(fwlab), user: daveId }), 403, 'a forged remove');
		eq(await forge(alice, '/admin/queues/remove', { id: String(fwlab), user: daveId }, false), 403,
		   'alice\'s own POST without its CSRF token');
		eq(ctlJson('status').queues.find((l) => l.service === 'fwlab').waiting, 2, 'both places stay');
	});

	await check('alice removes a place; the removal is audited', async () => {
		await alice.goto(`${base}/admin/queues/line?id=${fwlab}`);
		await submit(alice, 'button[aria-label="Remove dave from the line"]');
		assert((await text(alice, '.alert.success')).includes('removed'), 'notice');
		const users = await alice.locator('#places td[data-label="User"]').allInnerTexts();
		eq(JSON.stringify(users), '["carol"]', 'dave is gone');
		eq(ctlJson('status').queues.find((l) => l.service === 'fwlab').waiting, 1, 'stored');
		const rm = ctlJson('audit', '--service', 'fwlab', '--limit', '5').audit.find((a) => a.action === 'queue.remove');
		assert(rm && rm.actor === 'alice' && rm.target === 'dave', `audit: ${JSON.stringify(rm)}`);
		eq(await forge(alice, '/admin/queues/remove', { id: String(fwlab), user: daveId }), 404,
		   'removing a place that is gone');
	});

	await check('one let in from the line is listed with the wait', async () => {
		ctl('right', 'revoke', String(liveOf('erin')[0].id));
		const resp = await fetch(`${base}/queue?service=fwlab`, { headers: { cookie: carolCookie },
		                                                            redirect: 'manual', signal: within() });
		eq(resp.status, 303, 'carol\'s turn has come');
		assert(resp.headers.get('location').startsWith('http://10.0.9.2/_sekisho/enter?code='), 'the entry');
		eq(liveOf('carol').length, 1, 'carol holds a right');
		await alice.goto(`${base}/admin/queues/line?id=${fwlab}`);
		assert((await alice.content()).includes('Nobody is waiting'), 'the line is empty');
		eq(await text(alice, '#recent td[data-label="User"]'), 'carol', 'carol let in from the line');
		await shot(alice, 'queue-line-recent');
		// A busy line writes many rows (joins, refusals) after an admission: it is still found.
		sql(`WITH RECURSIVE
			k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < 2500)
			INSERT INTO audit (at, actor, action, service, target, detail)
			SELECT strftime('%s','now'), 'u' || i, 'deny', 'fwlab', 'u' || i, 'reason=filler' FROM k`);
		await alice.goto(`${base}/admin/queues/line?id=${fwlab}`);
		sql("DELETE FROM audit WHERE detail = 'reason=filler'");
		eq(await text(alice, '#recent td[data-label="User"]'), 'carol', 'carol, behind 2500 newer rows');
		eq(await alice.locator('#recent-more').count(), 0, 'the whole hour was read');
		ctl('right', 'revoke', String(liveOf('carol')[0].id));
		ctl('service', 'edit', 'fwlab', '--cap', '3', '--queue', 'default', '--queue-max', '0');
	});

	await check('deleting a service asks first, then removes it', async () => {
		await root.goto(`${base}/admin/services/edit?id=${bobsvc}`);
		await Promise.all([root.waitForNavigation(), root.click('a:text("Delete…")')]);
		eq(await text(root, 'h1'), 'Delete the service bobsvc?', 'confirmation page');
		await shot(root, 'service-delete-confirm');
		eq(ctlJson('service', 'show', 'bobsvc').name, 'bobsvc', 'nothing deleted yet');
		await submit(root, 'main button.danger');
		assert((await text(root, '.alert.success')).includes('deleted'), 'notice');
		assert(!(await root.content()).includes('bobsvc'), 'still listed');
		let gone = false;
		try { ctl('service', 'show', 'bobsvc'); } catch { gone = true; }
		assert(gone, 'sekishoctl still shows it');
	});

	await check('a URL with markup is shown escaped, and pages carry no inline script or style', async () => {
		const evil = 'http://10.0.9.2/?q="><script>alert(1)</script>';
		await alice.goto(`${base}/admin/services/new`);
		await fillService(alice, { name: 'esc', url: evil, max_usage: '5', max_interval: '5', cap: '1' });
		await submit(alice, 'main button[type=submit]');
		const r = await alice.goto(`${base}/admin/`);
		const html = await r.text();
		assert(html.includes('?q=&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;'), 'escaped form');
		assert(!/<script|\sstyle=|\son[a-z]+=/i.test(html), 'inline script or style');
		const csp = r.headers()['content-security-policy'] || '';
		assert(csp.includes("default-src 'none'") && !csp.includes('unsafe-inline'), `CSP: ${csp}`);
		eq(r.headers()['x-frame-options'], 'DENY', 'frame option');
		eq(await alice.locator('tbody tr', { hasText: 'esc' }).locator('td.url').innerText(), evil, 'shown as text');
	});

	await check('audit entries appear for admin actions, admissions and ends', async () => {
		await root.goto(`${base}/admin/audit`);
		const html = await root.content();
		for (const action of ['service.add', 'service.edit', 'service.disable', 'service.enable',
		                      'service.del', 'right.revoke', 'user.add', 'user.role', 'user.passwd',
		                      'user.disable', 'user.enable', 'admin.login', 'end'])
			assert(html.includes(`>${action}<`), `no ${action} entry`);
		const revoke = root.locator('tbody tr', { hasText: 'right.revoke' })
			.filter({ has: root.locator('td[data-label="Actor"]', { hasText: /^alice$/ }) }).first();
		eq(await revoke.locator('td[data-label="Actor"]').innerText(), 'alice', 'actor');
		eq(await revoke.locator('td[data-label="Target"]').innerText(), 'carol', 'target');
		eq(await revoke.locator('td[data-label="Service"]').innerText(), 'fwlab', 'service');
		await shot(root, 'audit');
		await root.setViewportSize(PHONE);
		await shot(root, 'audit-phone');
		await root.setViewportSize(DESKTOP);
	});

	await check('the audit filter by service and by user works', async () => {
		await root.fill('#service', 'fwlab');
		await submit(root, 'form.filter button[type=submit]');
		const services = await root.locator('td[data-label="Service"]').allInnerTexts();
		assert(services.length > 0 && services.every((s) => s === 'fwlab'), `services: ${services}`);
		await root.fill('#service', '');
		await root.fill('#user', 'bob');
		await submit(root, 'form.filter button[type=submit]');
		const rows = await root.locator('tbody tr').all();
		assert(rows.length > 0, 'no rows for bob');
		for (const row of rows) {
			const who = [await row.locator('td[data-label="Actor"]').innerText(),
			             await row.locator('td[data-label="Target"]').innerText()];
			assert(who.includes('bob'), `row without bob: ${who}`);
		}
		await root.fill('#user', 'no such/name');
		const r = await submit(root, 'form.filter button[type=submit]');
		eq(r.status(), 400, 'a bad filter');
		assert(await root.locator('#user + .field-error').isVisible(), 'its message');
	});

	await check('the audit log is paginated', async () => {
		sql(`WITH RECURSIVE k(i) AS
			(SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < 60)
			INSERT INTO audit (at, actor, action, service, target, detail)
			SELECT strftime('%s','now'), 'tester', 'test.row', 'pager', '', 'row ' || i FROM k`);
		await root.goto(`${base}/admin/audit?service=pager`);
		eq(await root.locator('tbody tr').count(), 50, 'first page');
		eq(await root.locator('tbody tr td.detail').first().innerText(), 'row 60', 'newest first');
		await Promise.all([root.waitForNavigation(), root.click('a:text("Older entries")')]);
		eq(await root.locator('tbody tr').count(), 10, 'second page');
		eq(await root.locator('tbody tr td.detail').last().innerText(), 'row 1', 'oldest last');
		eq(await root.locator('a:text("Older entries")').count(), 0, 'no third page');
		eq(await root.locator('a:text("Newest")').count(), 1, 'a way back');
	});

	await check('an admin login left idle past login_idle_min has ended', async () => {
		sql(`UPDATE logins SET last_seen = strftime('%s','now') - 31 * 60
		              WHERE user_id = (SELECT id FROM users WHERE name = 'bob')`);
		await bob.goto(`${base}/admin/`);
		eq(new URL(bob.url()).pathname, '/admin/login', 'sent to the login');
		const edit = { id: String(fwlab), name: 'fwlab', url: 'http://10.0.9.2/', max_usage: '1',
		               max_interval: '1', cap: '1' };
		const cookies = await bob.context().cookies(base);
		const r = await fetch(`${base}/admin/services/edit`, {
			method: 'POST', redirect: 'manual', body: new URLSearchParams(edit), signal: within(),
			headers: { cookie: cookies.map((c) => `${c.name}=${c.value}`).join('; ') } });
		eq(r.status, 403, 'a POST on the idle login');
	});

	await check('logging out ends the admin login', async () => {
		await alice.goto(`${base}/admin/`);
		await submit(alice, 'header button:text("Log out")');
		eq(new URL(alice.url()).pathname, '/admin/login', 'back at the login');
		assert((await text(alice, '.alert.success')).includes('logged out'), 'notice');
		await shot(alice, 'login');
		await alice.goto(`${base}/admin/`);
		eq(new URL(alice.url()).pathname, '/admin/login', 'the services page needs a login again');
	});

	await check('failed admin logins are throttled like the portal\'s', async () => {
		const page = await newPage();
		for (let i = 0; i < 5; i++)
			eq((await login(page, 'frank', `guess-${i}`)).status(), 401, `guess ${i}`);
		const r = await login(page, 'frank', 'frank-password');
		eq(r.status(), 429, 'the account has no attempt left');
		assert(Number(r.headers()['retry-after']) > 0, 'Retry-After');
		eq(await page.inputValue('#user'), 'frank', 'the name stays in the form');
	});

	for (const ctx of contexts) await ctx.close();
}
