// The addon's calls with wrong arguments, calls out of order and handles of
// the wrong kind: each is a JavaScript error that says what was wrong, never
// a cast of the wrong type, a wrapped number or a crash (native/addon_args.h,
// the type tags, SideUsage in native/side.h). Every call runs in a child
// process, so a crash would show as a signal instead of taking mocha down.
import { spawnSync } from 'child_process';
import { expect } from 'chai';
import path from 'path';
import { addon } from '../../src/native';
import { useScratch } from './helpers';

const NATIVE = path.resolve(__dirname, '../../src/native');

/** Runs `body` (with `addon`, `ms` and `paths` in scope) in a child; its answer. */
function inChild(paths: string[], body: string): { threw?: string; name?: string; answered?: unknown; signal: NodeJS.Signals | null } {
  const script = `
    const { addon } = require(${JSON.stringify(NATIVE)});
    const paths = ${JSON.stringify(paths)};
    const ms = new addon.Memsections(paths);
    (async () => {
      try { const answered = await (async () => { ${body} })(); console.log(JSON.stringify({ answered: answered ?? null })); }
      catch (err) { console.log(JSON.stringify({ threw: err.message, name: err.name })); }
      ms.close();
    })();`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20_000 });
  const last = r.stdout.trim().split('\n').pop() ?? '';
  return { ...(last.startsWith('{') ? JSON.parse(last) : {}), signal: r.signal };
}

describe('the binding refuses what it cannot use', function () {
  this.timeout(30_000);
  const s = useScratch();

  const wrong: [string, string, RegExp][] = [
    ['a side that is not a number', "return ms.attach('a', 'poll', 1, 'h', 0);", /side \(argument 1\) must be a number/],
    ['a side of -1 (it would wrap to 4294967295)', "return ms.attach(-1, 'poll', 1, 'h', 0);", /side \(argument 1\) must be a whole number from 0/],
    ['a pid that is a fraction', "return ms.attach(0, 'poll', 1.5, 'h', 0);", /pid \(argument 3\) must be a whole number/],
    ['an unknown notifier', "return ms.attach(0, 'smoke', 1, 'h', 0);", /unknown notifier smoke/],
    ['a channel name that is not a string', 'return ms.createChannel(42, 0o600, 0, 0, 0);', /name \(argument 1\) must be a string/],
    ['a mode that is NaN', "return ms.createChannel('x', NaN, 0, 0, 0);", /mode \(argument 2\) must be a whole number/],
    ['a chmod without a change object', "return ms.setChannelAttributes('x', 7, 0);", /change \(argument 2\) must be an object/],
    ['a hub handle that is a plain object', 'return ms.useDoorbellHub({});', /expected a DoorbellHub's handle/],
    ['paths that are not strings', 'return new addon.Memsections([1, 2, 3]);', /paths \(argument 1\) must be an array of strings/],
    ['a Memsections given as a hook table', "return new addon.AreaRouter().add('vm2', ms);", /hooks must be the fuseHooks\(\) of a Memsections/],
  ];
  for (const [what, body, message] of wrong) {
    it(`answers ${what} with a TypeError or RangeError naming it`, () => {
      const r = inChild(s.formatted().paths, body);
      expect(r.signal, `the process died of ${r.signal}`).to.equal(null);
      expect(r.threw, JSON.stringify(r)).to.match(message);
      expect(r.name).to.be.oneOf(['TypeError', 'RangeError', 'Error']);
    });
  }

  // Handles of one kind where another is expected: a region handle (an
  // AreaRegistry's region()) is an N-API external, as hook tables and hubs are.
  for (const [what, call, message] of [
    ['a hook table', "new addon.AreaRouter().add('vm2', region)", /hooks must be the fuseHooks\(\) of a Memsections/],
    ['a doorbell hub', 'ms.useDoorbellHub(region)', /expected a DoorbellHub's handle/],
  ] as const) {
    it(`refuses a region handle given as ${what}`, () => {
      const region = s.region(addon.constants.registrySize + 4 * 1024 * 1024);
      addon.AreaRegistry.format(region, false);
      const r = inChild(s.formatted().paths, `const reg = new addon.AreaRegistry(${JSON.stringify(region)}); const region = reg.region(); try { return ${call}; } finally { reg.close(); }`);
      expect(r.signal, `the process died of ${r.signal}`).to.equal(null);
      expect(r.threw, JSON.stringify(r)).to.match(message);
    });
  }

  it('takes a region handle only from an AreaRegistry, not any object', () => {
    const r = inChild(s.formatted().paths, 'return new addon.Memsections({}, 0, 4096);');
    expect(r.signal).to.equal(null);
    expect(r.threw).to.match(/paths \(argument 1\) must be an array of strings/);
  });

  it('refuses calls out of order with an Error that says which, and keeps working after', () => {
    const r = inChild(
      s.formatted().paths,
      `const out = [];
       for (const call of [() => ms.startNotifier(), () => ms.fuseHooks(), () => ms.attach(0, 'doorbell', 1, 'h', 0)]) {
         try { call(); out.push('answered'); } catch (err) { out.push(err.message); }
       }
       ms.attach(0, 'poll', 1, 'h', 0);
       ms.startNotifier();
       try { ms.startNotifier(); out.push('answered'); } catch (err) { out.push(err.message); }
       ms.stopNotifier();
       ms.detach();
       return out;`,
    );
    expect(r.signal).to.equal(null);
    expect(r.answered).to.deep.equal([
      'startNotifier before attach',
      'no FIFO engine: attach() first (or it was stopped)',
      'doorbell notifier without an open doorbell device',
      'notifier already running',
    ]);
  });

  it('has no engine harness in the package build of the addon', () => {
    const shipped = path.resolve(__dirname, '../../../build/Release/intervmfs.node');
    const r = spawnSync(process.execPath, ['-e', `console.log(typeof require(${JSON.stringify(shipped)}).EngineHarness)`], { encoding: 'utf8' });
    expect(r.stdout.trim(), r.stderr).to.equal('undefined');
  });
});
