import { Command } from 'commander';
import { loadPipelineConfig } from '../app/config.js';
import { loadCatalogue } from '../config/catalogue.js';
import { initDeployment } from '../provisioning/deployment.js';

/** `jlpipe deploy init`: the secret files, registry and broker logins docker-compose.yml reads. */
export function deployCommand(run: (fn: () => Promise<void>) => Promise<void>): Command {
  const deploy = new Command('deploy').description('prepare the docker compose deployment (docs/OPERATIONS.md)');
  deploy
    .command('init')
    .description('make deploy/secrets/* (random), an empty device registry, and the broker password file and ACL; files that exist are kept')
    .option('--dir <dir>', 'the deployment folder beside docker-compose.yml', 'deploy')
    .option('-c, --config <file>', 'pipeline config whose catalogue the registry is checked against')
    .action((o: { dir: string; config?: string }) =>
      run(async () => {
        const { created, kept } = initDeployment(o.dir, loadCatalogue(loadPipelineConfig(o.config).catalogue));
        for (const f of created) console.log(`created ${f}`);
        for (const f of kept) console.log(`kept    ${f}`);
      }),
    );
  return deploy;
}
