export { type Claims, judgeRead, ReadRules, RulesError } from './rules.ts';
