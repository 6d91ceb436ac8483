/** npm run sts-emulator: the STS emulator on its own, for trying iamlink without AWS. */
import { StsEmulator } from './emulator.js';

const port = Number(process.env.PORT ?? 4566); // PORT=0 picks a free port
const emulator = new StsEmulator();
const url = await emulator.start(port, process.env.HOST ?? '127.0.0.1');
process.stdout.write(
  `STS emulator on ${url}\n` +
    `  AWS_ENDPOINT_URL=${url} AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=<12-digit account id> AWS_SECRET_ACCESS_KEY=test\n` +
    `  create users, keys and roles with the AWS CLI or SDK (IAM CreateUser, CreateAccessKey, CreateRole, UpdateAssumeRolePolicy, DeleteRole)\n`,
);
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => void emulator.stop().then(() => process.exit(0)));
