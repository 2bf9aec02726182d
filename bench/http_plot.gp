# bench/http_plot.gp — req/s and p99 against connections, mini-forge vs nginx.
# gnuplot -e "data='plot.dat'; out='x.png'; stamp='...'" bench/http_plot.gp
# data columns: connections, forge req/s, nginx req/s, forge p99 ms,
# nginx p99 ms.
set terminal pngcairo size 1100,460 font "sans,10"
set output out
set multiplot layout 1,2 title "mini-forge GET /get-key vs nginx return 200 (loopback, wrk) — ".stamp
set logscale x 2
set xlabel "connections"
set grid
set key bottom right
set format y "%.0s%c"
set xtics (8, 16, 32, 64, 128, 256, 512, 1000)
set yrange [0:*]
set title "throughput"
set ylabel "requests/s"
plot data using 1:2 with linespoints lw 2 pt 7 title "mini-forge", \
     data using 1:3 with linespoints lw 2 pt 5 title "nginx"
set title "p99 latency"
set ylabel "ms"
set format y "%g"
set logscale y 10
set yrange [*:*]
plot data using 1:4 with linespoints lw 2 pt 7 title "mini-forge", \
     data using 1:5 with linespoints lw 2 pt 5 title "nginx"
unset multiplot
