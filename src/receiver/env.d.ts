declare const __SEALPOST_BUILD__: string;
declare const __SEALPOST_VERSION__: string;
declare module '*.css';
