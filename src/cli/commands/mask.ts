import type { Command } from 'commander';
import { loadConfigFile } from '../../config/load.js';
import { GatehouseError } from '../../core/errors.js';
import type { ResourceMaskingConfig } from '../../masking/config.js';
import { MaskCounts } from '../../masking/counts.js';
import { resolveMasking } from '../../masking/profile.js';
import { BytesMasker, textMaskerFor } from '../../masking/text-body.js';

interface MaskOptions {
  readonly config?: string;
  readonly resource?: string;
  readonly groups?: string;
  readonly json?: boolean;
  readonly counts?: boolean;
}

/**
 * `gatehouse mask [-c FILE --resource NAME --groups a,b]`: masks standard input to standard output, streaming, with
 * the default detectors when no config is given, or with a resource's profile as a caller in those groups would get
 * it. Users test their rules with it; `--counts` prints what was masked to standard error.
 */
export function registerMaskCommand(program: Command): void {
  program
    .command('mask')
    .description('mask personal data and secrets in standard input (default detectors, or a resource profile)')
    .option('-c, --config <file>', 'configuration file (needs --resource)')
    .option('--resource <name>', 'use this resource’s masking profile')
    .option('--groups <list>', 'comma-separated groups of the caller to resolve the profile for', '')
    .option('--json', 'treat the input as JSON (mask string values only)')
    .option('--counts', 'print per-type counts of what was masked to standard error')
    .action(async (options: MaskOptions) => {
      const masking = profileFrom(options);
      const groups = (options.groups ?? '')
        .split(',')
        .map((g) => g.trim())
        .filter(Boolean);
      const resolution = resolveMasking(masking, groups);
      const counts = new MaskCounts();
      if (resolution.mode !== 'mask' || resolution.plan.redactor === undefined) {
        process.stderr.write(
          resolution.mode === 'exempt'
            ? `gatehouse: group ${resolution.group} is exempt from masking on this resource; output is raw\n`
            : 'gatehouse: no content masking applies; output is unchanged\n',
        );
        for await (const chunk of process.stdin) process.stdout.write(chunk);
        return;
      }
      const masker = new BytesMasker(
        textMaskerFor(options.json ? 'application/json' : 'text/plain', resolution.plan.redactor, counts),
      );
      for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
        const out = masker.push(chunk);
        if (out.length > 0 && !process.stdout.write(out)) await new Promise((r) => process.stdout.once('drain', r));
      }
      process.stdout.write(masker.end());
      if (options.counts) process.stderr.write(`${JSON.stringify(counts.toRecord())}\n`);
    });
}

/** The resource's masking from the config, or the default profile (all default detectors, redacted). */
function profileFrom(options: MaskOptions): ResourceMaskingConfig {
  if (options.config === undefined && options.resource === undefined) return { requests: true, exempt: [], groups: [] };
  const { config } = loadConfigFile(options.config ?? process.env.GATEHOUSE_CONFIG ?? 'gatehouse.yaml');
  const resource = config.resources.find((r) => r.name === options.resource);
  if (resource === undefined)
    throw new GatehouseError('config.invalid', `no resource named "${options.resource ?? ''}" in the configuration`);
  if (resource.masking === undefined)
    throw new GatehouseError('config.invalid', `resource "${resource.name}" has no masking profile`);
  return resource.masking;
}
