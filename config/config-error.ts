/** A bad setting. The message is one line naming the setting: `config: NAME: what is wrong`. */
export class ConfigError extends Error {
  readonly setting: string;
  constructor(setting: string, problem: string) {
    super(`config: ${setting}: ${problem}`);
    this.name = 'ConfigError';
    this.setting = setting;
  }
}
