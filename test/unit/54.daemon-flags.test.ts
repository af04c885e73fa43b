// The node flags the background daemon is started with (src/daemon/background.ts).
import { expect } from 'chai';
import { daemonExecArgv } from '../../src/daemon/background';

describe('daemon node flags', () => {
  it('bounds the young generation of the daemon', () => {
    expect(daemonExecArgv([])).to.deep.equal(['--max-semi-space-size=1']);
  });
  it("keeps the caller's flags after ours", () => {
    expect(daemonExecArgv(['--enable-source-maps'])).to.deep.equal(['--max-semi-space-size=1', '--enable-source-maps']);
  });
  it('leaves the size to a caller that chose one, on the command line or in NODE_OPTIONS', () => {
    expect(daemonExecArgv(['--max-semi-space-size=8'])).to.deep.equal(['--max-semi-space-size=8']);
    expect(daemonExecArgv(['--max_semi_space_size=8'])).to.deep.equal(['--max_semi_space_size=8']);
    expect(daemonExecArgv([], '--expose-gc --max-semi-space-size=4')).to.deep.equal([]);
  });
});
