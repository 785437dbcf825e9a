export { networkExposure, type NetworkExposure, type DirectionExposure } from './exposure';
export { effectivePolicyTypes, type PolicyType } from './policy-types';
