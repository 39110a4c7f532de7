export { type Claims, judgeRead, Rules, RulesError } from './rules.ts';
