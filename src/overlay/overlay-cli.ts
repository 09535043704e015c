// Apply or inspect the overlay in the current network namespace, driven by
// JSON on stdin. For tests, benches and debugging under `ip netns exec`:
//   echo '{"self":…,"peers":[…],"cfg":…}' | node --import tsx src/overlay/overlay-cli.ts apply
//   node --import tsx src/overlay/overlay-cli.ts state [vxlanName] [bridgeName]
//   node --import tsx src/overlay/overlay-cli.ts remove [vxlanName] [bridgeName]
// Prints one JSON object on stdout.
import { text } from 'node:stream/consumers';
import { desiredOverlay, vxlanDeviceName, type OverlayConfig, type OverlayPeer, type OverlaySelf } from './vxlan.ts';
import { applyOverlay, readOverlay, removeOverlay } from './overlay.ts';
import { Netlink } from './netlink.ts';
import { BRIDGE_NAME } from '../core/well-known.ts';

interface ApplyInput {
  self: OverlaySelf;
  peers: OverlayPeer[];
  cfg: OverlayConfig;
  masquerade?: boolean;
}

async function main(argv: string[]): Promise<unknown> {
  const [cmd, vx = vxlanDeviceName(1), br = BRIDGE_NAME] = argv;
  if (cmd === 'apply') {
    const input = JSON.parse(await text(process.stdin)) as ApplyInput;
    const desired = desiredOverlay(input.self, input.peers, input.cfg);
    const res = await applyOverlay(desired, { masquerade: input.masquerade ?? true });
    return { vtepMac: res.vtepMac, changes: res.changes, skipped: desired.skipped };
  }
  if (cmd === 'state') {
    const nl = Netlink.open();
    try {
      return await readOverlay(nl, vx, br);
    } finally {
      nl.close();
    }
  }
  if (cmd === 'remove') {
    await removeOverlay(vx, br);
    return { removed: [vx, br] };
  }
  throw new Error(`usage: overlay-cli.ts apply|state|remove [vxlanName] [bridgeName]`);
}

main(process.argv.slice(2)).then(
  (out) => process.stdout.write(JSON.stringify(out) + '\n'),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
