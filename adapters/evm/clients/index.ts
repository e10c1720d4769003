/** Typed ethers-v6-era application clients over the medrelay contracts (hospital, patient, insurer). */
export * from './chain.js';
export * from './claims.js';
export * from './errors.js';
export * from './hospital.js';
export * from './insurer.js';
export * from './packets.js';
export * from './patient.js';
