/** The floors' and peers' Durable Object classes; each workload family adds its exports here. */
export {}
